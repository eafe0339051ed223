// cuda.cu -- CUDA kernels of humanrecon.splat, compiled at run time with NVRTC by
// humanrecon/splat/_backends.py (and with `nvcc -c` by the tests, so that a kernel that
// does not build fails CI).  All math comes from splat_math.h, shared with cpu.cpp.
//
// Every kernel exists for float32 (`_f32`) and float64 (`_f64`).  Scalar floating-point
// arguments are `double` (torch.cuda's NVRTC launcher passes Python floats as double),
// integers are `int`; a missing background is passed as has_bg = 0 with any pointer.
// Tile binning and the per-tile depth sort are done on the host side with torch ops
// (_torch_impl.tile_intersections): flat_ids hold Gaussian indices n, the camera is blockIdx.z.
#include "splat_math.h"

namespace {

struct AtomicAdd {
  template <typename A, typename T> static __device__ __forceinline__ void add(A* p, T v) {
    if (v != T(0)) atomicAdd(p, v);
  }
};

template <typename T>
__device__ void project_fwd(const T* means, const T* quats, const T* scales,
                            const T* viewmats, const T* Ks, int C, int N, int W, int H,
                            double near_plane, double far_plane, T* means2d, T* conics,
                            T* depths, int* radii) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (long long)C * N) return;
  const int c = int(i / N), n = int(i % N);
  const splat::Camera<T> cam = splat::load_camera<T>(viewmats + 16 * c, Ks + 9 * c, W, H,
                                                     T(near_plane), T(far_plane));
  splat::ProjOut<T> out;
  splat::ProjState<T> st;
  splat::project_gaussian<T>(means + 3 * n, quats + 4 * n, scales + 3 * n, cam, out, st);
  means2d[2 * i] = out.mx;
  means2d[2 * i + 1] = out.my;
  for (int k = 0; k < 3; ++k) conics[3 * i + k] = out.conic[k];
  depths[i] = out.depth;
  radii[i] = out.radius;
}

// Per (camera, Gaussian) gradients, summed over cameras / Gaussians by the host (torch):
// v_means_cn (C,N,3), v_quats_cn (C,N,4), v_scales_cn (C,N,3), v_view_cn (C,N,12).
template <typename T>
__device__ void project_bwd(const T* means, const T* quats, const T* scales,
                            const T* viewmats, const T* Ks, int C, int N, int W, int H,
                            double near_plane, double far_plane, const int* radii,
                            const T* v_means2d, const T* v_conics, const T* v_depths,
                            T* v_means_cn, T* v_quats_cn, T* v_scales_cn, T* v_view_cn) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (long long)C * N) return;
  const int c = int(i / N), n = int(i % N);
  T gm[3] = {0, 0, 0}, gq[4] = {0, 0, 0, 0}, gs[3] = {0, 0, 0};
  T gv[12];
  for (int k = 0; k < 12; ++k) gv[k] = T(0);
  const splat::Camera<T> cam = splat::load_camera<T>(viewmats + 16 * c, Ks + 9 * c, W, H,
                                                     T(near_plane), T(far_plane));
  splat::ProjOut<T> out;
  splat::ProjState<T> st;
  out.radius = 0;
  if (radii[i] > 0)
    splat::project_gaussian<T>(means + 3 * n, quats + 4 * n, scales + 3 * n, cam, out, st);
  if (out.radius > 0)
    splat::project_gaussian_bwd<T>(means + 3 * n, scales + 3 * n, cam, st, v_means2d + 2 * i,
                                   v_conics + 3 * i, v_depths[i], gm, gq, gs, gv);
  else
    splat::project_depth_bwd<T>(means + 3 * n, cam, v_depths[i], gm, gq, gs, gv);
  for (int k = 0; k < 3; ++k) v_means_cn[3 * i + k] = gm[k];
  for (int k = 0; k < 4; ++k) v_quats_cn[4 * i + k] = gq[k];
  for (int k = 0; k < 3; ++k) v_scales_cn[3 * i + k] = gs[k];
  for (int k = 0; k < 12; ++k) v_view_cn[12 * i + k] = gv[k];
}

// grid (tiles_x, tiles_y, C), block (16, 16, 1): one thread per pixel.
template <typename T>
__device__ void rasterize_fwd(const T* means2d, const T* conics, const T* colors,
                              const T* opacities, const T* backgrounds, int has_bg, int C,
                              int N, int D, int W, int H, const int* tile_offsets,
                              const int* flat_ids, T* render, T* alphas, T* T_final,
                              int* last_ids) {
  const int c = blockIdx.z;
  const int i = blockIdx.x * splat::TILE + threadIdx.x;
  const int j = blockIdx.y * splat::TILE + threadIdx.y;
  if (c >= C || i >= W || j >= H) return;
  const long long tile = ((long long)c * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const int* ids = flat_ids + tile_offsets[tile];
  const int count = tile_offsets[tile + 1] - tile_offsets[tile];
  const T* bg = has_bg ? backgrounds + (long long)c * D : nullptr;
  const long long pix = ((long long)c * H + j) * W + i;
  T* out = render + pix * D;
  T Tf = T(1);
  int last = 0;
  for (int ch0 = 0; ch0 < D || (D == 0 && ch0 == 0); ch0 += splat::CH_CHUNK) {
    const int nch = splat::i_min(splat::CH_CHUNK, D - ch0);
    splat::pixel_forward<T>(ids, count, means2d, conics, colors, opacities, (long long)c * N, D, ch0, nch,
                            bg, T(i) + T(0.5), T(j) + T(0.5), out + ch0, Tf, last);
    if (D == 0) break;
  }
  alphas[pix] = T(1) - Tf;
  T_final[pix] = Tf;
  last_ids[pix] = last;
}

// Accumulates (atomically) into v_means2d (C*N,2), v_conics (C*N,3), v_colors (C*N,D),
// v_opacities (N); all must be zeroed by the caller.
template <typename T>
__device__ void rasterize_bwd(const T* means2d, const T* conics, const T* colors,
                              const T* opacities, const T* backgrounds, int has_bg, int C,
                              int N, int D, int W, int H, const int* tile_offsets,
                              const int* flat_ids, const T* T_final, const int* last_ids,
                              const T* v_render, const T* v_alphas, T* v_means2d,
                              T* v_conics, T* v_colors, T* v_opacities) {
  const int c = blockIdx.z;
  const int i = blockIdx.x * splat::TILE + threadIdx.x;
  const int j = blockIdx.y * splat::TILE + threadIdx.y;
  if (c >= C || i >= W || j >= H) return;
  const long long tile = ((long long)c * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const int* ids = flat_ids + tile_offsets[tile];
  const T* bg = has_bg ? backgrounds + (long long)c * D : nullptr;
  const long long pix = ((long long)c * H + j) * W + i;
  const T* vo = v_render + pix * D;
  for (int ch0 = 0; ch0 < D || (D == 0 && ch0 == 0); ch0 += splat::CH_CHUNK) {
    const int nch = splat::i_max(splat::i_min(splat::CH_CHUNK, D - ch0), 0);
    splat::pixel_backward<T, AtomicAdd, T>(ids, last_ids[pix], means2d, conics, colors, opacities,
                                        (long long)c * N, D, ch0, nch, bg, T(i) + T(0.5), T(j) + T(0.5),
                                        T_final[pix], vo + ch0,
                                        ch0 == 0 ? v_alphas[pix] : T(0), v_means2d, v_conics,
                                        v_colors, v_opacities);
    if (D == 0) break;
  }
}

}  // namespace

#define SPLAT_KERNELS(T, SUF)                                                                 \
  extern "C" __global__ void hr_project_fwd_##SUF(                                           \
      const T* means, const T* quats, const T* scales, const T* viewmats, const T* Ks, int C, \
      int N, int W, int H, double near_plane, double far_plane, T* means2d, T* conics,      \
      T* depths, int* radii) {                                                                \
    project_fwd<T>(means, quats, scales, viewmats, Ks, C, N, W, H, near_plane, far_plane,   \
                   means2d, conics, depths, radii);                                           \
  }                                                                                           \
  extern "C" __global__ void hr_project_bwd_##SUF(                                           \
      const T* means, const T* quats, const T* scales, const T* viewmats, const T* Ks, int C, \
      int N, int W, int H, double near_plane, double far_plane, const int* radii,           \
      const T* v_means2d, const T* v_conics, const T* v_depths, T* v_means_cn,              \
      T* v_quats_cn, T* v_scales_cn, T* v_view_cn) {                                         \
    project_bwd<T>(means, quats, scales, viewmats, Ks, C, N, W, H, near_plane, far_plane,   \
                   radii, v_means2d, v_conics, v_depths, v_means_cn, v_quats_cn,            \
                   v_scales_cn, v_view_cn);                                                   \
  }                                                                                           \
  extern "C" __global__ void hr_rasterize_fwd_##SUF(                                         \
      const T* means2d, const T* conics, const T* colors, const T* opacities,                \
      const T* backgrounds, int has_bg, int C, int N, int D, int W, int H,                  \
      const int* tile_offsets, const int* flat_ids, T* render, T* alphas, T* T_final,       \
      int* last_ids) {                                                                        \
    rasterize_fwd<T>(means2d, conics, colors, opacities, backgrounds, has_bg, C, N, D, W, H, \
                     tile_offsets, flat_ids, render, alphas, T_final, last_ids);             \
  }                                                                                           \
  extern "C" __global__ void hr_rasterize_bwd_##SUF(                                         \
      const T* means2d, const T* conics, const T* colors, const T* opacities,                \
      const T* backgrounds, int has_bg, int C, int N, int D, int W, int H,                  \
      const int* tile_offsets, const int* flat_ids, const T* T_final, const int* last_ids,  \
      const T* v_render, const T* v_alphas, T* v_means2d, T* v_conics, T* v_colors,         \
      T* v_opacities) {                                                                       \
    rasterize_bwd<T>(means2d, conics, colors, opacities, backgrounds, has_bg, C, N, D, W, H, \
                     tile_offsets, flat_ids, T_final, last_ids, v_render, v_alphas,          \
                     v_means2d, v_conics, v_colors, v_opacities);                            \
  }

SPLAT_KERNELS(float, f32)
SPLAT_KERNELS(double, f64)
