// cpu.cpp -- CPU build of the humanrecon.splat kernels (forward + hand-written backward).
//
// Plain C++17, no torch headers: built by humanrecon/splat/_backends.py with
//   g++ -O3 -std=c++17 -shared -fPIC -pthread cpu.cpp -o <cache>/libsplat_cpu_<hash>.so
// and called through ctypes with raw pointers to contiguous CPU tensors.  Every entry point
// exists for float32 (`_f32`) and float64 (`_f64`).  All math lives in splat_math.h, shared
// with cuda.cu.  Work is split over std::threads with a *static* assignment, and
// per-thread partial gradients are reduced in thread order, so results are deterministic
// for a given thread count.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <type_traits>
#include <vector>

#include "splat_math.h"

namespace {

using splat::TILE;

// Run fn(item, thread_id) for item in [0, n): thread t gets items t, t + nt, t + 2 nt, ...
template <typename F> void parallel_for(int64_t n, int n_threads, F fn) {
  int nt = n_threads < 1 ? 1 : n_threads;
  if (nt > n) nt = n < 1 ? 1 : int(n);
  if (nt == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(nt);
  for (int t = 0; t < nt; ++t)
    pool.emplace_back([=, &fn]() {
      for (int64_t i = t; i < n; i += nt) fn(i, t);
    });
  for (auto& th : pool) th.join();
}

int clamp_threads(int n_threads, int64_t n) {
  int nt = n_threads < 1 ? 1 : n_threads;
  if (nt > n) nt = n < 1 ? 1 : int(n);
  return nt;
}

// ------------------------------------------------------------------ projection
template <typename T>
void project_fwd(const T* means, const T* quats, const T* scales, const T* viewmats,
                 const T* Ks, int C, int N, int W, int H, double near_plane,
                 double far_plane, T* means2d, T* conics, T* depths, int32_t* radii,
                 int n_threads) {
  parallel_for(int64_t(C) * N, n_threads, [&](int64_t i, int) {
    const int c = int(i / N), n = int(i % N);
    const splat::Camera<T> cam = splat::load_camera<T>(
        viewmats + 16 * c, Ks + 9 * c, W, H, T(near_plane), T(far_plane));
    splat::ProjOut<T> out;
    splat::ProjState<T> st;
    splat::project_gaussian<T>(means + 3 * n, quats + 4 * n, scales + 3 * n, cam, out, st);
    means2d[2 * i] = out.mx;
    means2d[2 * i + 1] = out.my;
    for (int k = 0; k < 3; ++k) conics[3 * i + k] = out.conic[k];
    depths[i] = out.depth;
    radii[i] = out.radius;
  });
}

// Gradients are written (not accumulated) into v_means (N,3), v_quats (N,4), v_scales
// (N,3), v_viewmats (C,4,4).  Threads split the Gaussians; each thread loops over the
// cameras, so the per-Gaussian outputs need no reduction; viewmat gradients are summed
// per thread and reduced in thread order.  The backward math runs in double for both
// dtypes (the forward state is recomputed in double from the T inputs): for elongated
// Gaussians the chain through the nearly singular 2D covariance loses several digits in
// float32, more than torch's autograd of the same float32 graph does.
template <typename T>
void project_bwd(const T* means, const T* quats, const T* scales, const T* viewmats,
                 const T* Ks, int C, int N, int W, int H, double near_plane,
                 double far_plane, const int32_t* radii, const T* v_means2d,
                 const T* v_conics, const T* v_depths, T* v_means, T* v_quats, T* v_scales,
                 T* v_viewmats, int n_threads) {
  const int nt = clamp_threads(n_threads, N);
  std::vector<double> view_acc(size_t(nt) * C * 12, 0.0);
  std::vector<splat::Camera<double>> cams(C);
  for (int c = 0; c < C; ++c) {
    double vm[16], K[9];
    for (int k = 0; k < 16; ++k) vm[k] = double(viewmats[16 * c + k]);
    for (int k = 0; k < 9; ++k) K[k] = double(Ks[9 * c + k]);
    cams[c] = splat::load_camera<double>(vm, K, W, H, near_plane, far_plane);
  }
  const int64_t chunk = (int64_t(N) + nt - 1) / nt;
  parallel_for(nt, nt, [&](int64_t t, int) {
    const int64_t n0 = t * chunk, n1 = std::min<int64_t>(N, n0 + chunk);
    double* vacc = view_acc.data() + size_t(t) * C * 12;
    for (int64_t n = n0; n < n1; ++n) {
      double mean[3], quat[4], scale[3];
      for (int k = 0; k < 3; ++k) mean[k] = double(means[3 * n + k]);
      for (int k = 0; k < 4; ++k) quat[k] = double(quats[4 * n + k]);
      for (int k = 0; k < 3; ++k) scale[k] = double(scales[3 * n + k]);
      double vm[3] = {0, 0, 0}, vq[4] = {0, 0, 0, 0}, vs[3] = {0, 0, 0};
      for (int c = 0; c < C; ++c) {
        const int64_t i = int64_t(c) * N + n;
        const double vz = v_depths ? double(v_depths[i]) : 0.0;
        double gm[3], gq[4], gs[3], gv[12];
        splat::ProjOut<double> out;
        splat::ProjState<double> st;
        out.radius = 0;
        bool full = false;
        if (radii[i] > 0) {
          splat::project_gaussian<double>(mean, quat, scale, cams[c], out, st);
          // the forward (in T) kept this pair; the state is complete unless the double
          // recomputation fell on the other side of the near/far planes (then: depth only)
          full = (st.p[2] > cams[c].near_plane && st.p[2] < cams[c].far_plane && st.det > 0.0);
        }
        if (full) {
          const double vm2[2] = {double(v_means2d[2 * i]), double(v_means2d[2 * i + 1])};
          const double vc[3] = {double(v_conics[3 * i]), double(v_conics[3 * i + 1]),
                                double(v_conics[3 * i + 2])};
          splat::project_gaussian_bwd<double>(mean, scale, cams[c], st, vm2, vc, vz, gm, gq,
                                              gs, gv);
        } else {
          if (vz == 0.0) continue;
          splat::project_depth_bwd<double>(mean, cams[c], vz, gm, gq, gs, gv);
        }
        for (int k = 0; k < 3; ++k) vm[k] += gm[k];
        for (int k = 0; k < 4; ++k) vq[k] += gq[k];
        for (int k = 0; k < 3; ++k) vs[k] += gs[k];
        for (int k = 0; k < 12; ++k) vacc[c * 12 + k] += gv[k];
      }
      for (int k = 0; k < 3; ++k) v_means[3 * n + k] = T(vm[k]);
      for (int k = 0; k < 4; ++k) v_quats[4 * n + k] = T(vq[k]);
      for (int k = 0; k < 3; ++k) v_scales[3 * n + k] = T(vs[k]);
    }
  });
  for (int c = 0; c < C; ++c) {
    double acc[12] = {0};
    for (int t = 0; t < nt; ++t)
      for (int k = 0; k < 12; ++k) acc[k] += view_acc[(size_t(t) * C + c) * 12 + k];
    T* out = v_viewmats + 16 * c;
    for (int k = 0; k < 12; ++k) out[k] = T(acc[k]);
    for (int k = 12; k < 16; ++k) out[k] = T(0);
  }
}

// ------------------------------------------------------------------ tiles
// tiles_per_gauss (C*N): number of tiles each (camera, Gaussian) touches.  Returns the sum.
template <typename T>
int64_t tiles_per_gauss(const T* means2d, const int32_t* radii, int C, int N, int W, int H,
                        int32_t* out) {
  const int tx = (W + TILE - 1) / TILE, ty = (H + TILE - 1) / TILE;
  int64_t total = 0;
  for (int64_t i = 0; i < int64_t(C) * N; ++i) {
    int x0, x1, y0, y1;
    splat::tile_range<T>(means2d[2 * i], means2d[2 * i + 1], radii[i], tx, ty, x0, x1, y0, y1);
    out[i] = (x1 - x0) * (y1 - y0);
    total += out[i];
  }
  return total;
}

// tile_offsets (C*ty*tx + 1): start of each tile's list in flat_ids (total); flat_ids hold
// the Gaussian index n (camera c = tile / (ty*tx)), per tile sorted by depth (ties: lower
// index first).  Same lists as _torch_impl.tile_intersections.
template <typename T>
void bin_and_sort(const T* means2d, const T* depths, const int32_t* radii, int C, int N,
                  int W, int H, int32_t* tile_offsets, int32_t* flat_ids, int n_threads) {
  const int tx = (W + TILE - 1) / TILE, ty = (H + TILE - 1) / TILE;
  const int64_t n_tiles = int64_t(C) * tx * ty;
  std::vector<int64_t> counts(n_tiles + 1, 0);
  for (int64_t i = 0; i < int64_t(C) * N; ++i) {
    int x0, x1, y0, y1;
    splat::tile_range<T>(means2d[2 * i], means2d[2 * i + 1], radii[i], tx, ty, x0, x1, y0, y1);
    const int64_t base = (i / N) * tx * ty;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) counts[base + int64_t(y) * tx + x] += 1;
  }
  std::vector<int64_t> cursor(n_tiles, 0);
  int64_t run = 0;
  for (int64_t t = 0; t < n_tiles; ++t) {
    tile_offsets[t] = int32_t(run);
    cursor[t] = run;
    run += counts[t];
  }
  tile_offsets[n_tiles] = int32_t(run);
  for (int64_t i = 0; i < int64_t(C) * N; ++i) {
    int x0, x1, y0, y1;
    splat::tile_range<T>(means2d[2 * i], means2d[2 * i + 1], radii[i], tx, ty, x0, x1, y0, y1);
    const int64_t base = (i / N) * tx * ty;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) flat_ids[cursor[base + int64_t(y) * tx + x]++] = int32_t(i % N);
  }
  parallel_for(n_tiles, n_threads, [&](int64_t t, int) {
    int32_t* b = flat_ids + tile_offsets[t];
    int32_t* e = flat_ids + tile_offsets[t + 1];
    const T* dep = depths + (t / (int64_t(tx) * ty)) * N;
    if constexpr (std::is_same<T, float>::value) {
      // float32: sort 64-bit keys (order-preserving depth bits << 32 | index), the same
      // order as the comparison below (depths in a list are never NaN; -0 == +0)
      std::vector<uint64_t> keys(size_t(e - b));
      for (int64_t k = 0; k < e - b; ++k) {
        float d = dep[b[k]];
        if (d == 0.0f) d = 0.0f;
        uint32_t u;
        std::memcpy(&u, &d, sizeof(u));
        u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
        keys[k] = (uint64_t(u) << 32) | uint32_t(b[k]);
      }
      std::sort(keys.begin(), keys.end());
      for (int64_t k = 0; k < e - b; ++k) b[k] = int32_t(uint32_t(keys[k]));
    } else {
      std::sort(b, e, [dep](int32_t a, int32_t c) {
        const T da = dep[a], dc = dep[c];
        return da < dc || (da == dc && a < c);
      });
    }
  });
}

// ------------------------------------------------------------------ rasterization
// Per tile, the Gaussians of its list are first gathered (in list order) into contiguous
// local buffers, with each one's exp-skip bound (splat::alpha_skip_sigma); the per-pixel
// loops then read only these.  Same arithmetic as splat::pixel_forward / pixel_backward.
template <typename T> struct TileCache {
  std::vector<T> m, cn, op, thr, col;  // 2, 3, 1, 1, D per list entry
  void gather(const int32_t* ids, int count, const T* means2d, const T* conics,
              const T* colors, const T* opacities, int64_t cam_base, int D) {
    m.resize(size_t(2) * count);
    cn.resize(size_t(3) * count);
    op.resize(count);
    thr.resize(count);
    col.resize(size_t(D) * count + 1);
    for (int p = 0; p < count; ++p) {
      const int gn = ids[p];
      const int64_t g = cam_base + gn;
      m[2 * p] = means2d[2 * g];
      m[2 * p + 1] = means2d[2 * g + 1];
      for (int k = 0; k < 3; ++k) cn[3 * p + k] = conics[3 * g + k];
      op[p] = opacities[gn];
      thr[p] = splat::alpha_skip_sigma<T>(op[p]);
      for (int k = 0; k < D; ++k) col[size_t(p) * D + k] = colors[g * D + k];
    }
  }
};

// Tiles ordered by decreasing list length (ties: lower tile first).
inline std::vector<int64_t> tiles_by_cost(const int32_t* tile_offsets, int64_t n_tiles) {
  std::vector<int64_t> order(n_tiles);
  for (int64_t t = 0; t < n_tiles; ++t) order[t] = t;
  std::stable_sort(order.begin(), order.end(), [tile_offsets](int64_t a, int64_t b) {
    return tile_offsets[a + 1] - tile_offsets[a] > tile_offsets[b + 1] - tile_offsets[b];
  });
  return order;
}

template <typename T>
void rasterize_fwd(const T* means2d, const T* conics, const T* colors, const T* opacities,
                   const T* backgrounds, int C, int N, int D, int W, int H,
                   const int32_t* tile_offsets, const int32_t* flat_ids, T* render,
                   T* alphas, T* T_final, int32_t* last_ids, int n_threads) {
  const int tx = (W + TILE - 1) / TILE, ty = (H + TILE - 1) / TILE;
  const int64_t n_tiles = int64_t(C) * tx * ty;
  const int nt = clamp_threads(n_threads, n_tiles);
  // every pixel is written by exactly one tile, so any tile order gives the same result:
  // threads take the longest remaining tile from a shared counter
  const std::vector<int64_t> order = tiles_by_cost(tile_offsets, n_tiles);
  std::atomic<int64_t> next(0);
  std::vector<TileCache<T>> caches(nt);
  parallel_for(nt, nt, [&](int64_t th, int) {
    TileCache<T>& tc = caches[th];
    for (;;) {
      const int64_t k = next.fetch_add(1);
      if (k >= n_tiles) break;
      const int64_t tile = order[k];
      const int c = int(tile / (tx * ty));
      const int tr = int(tile % (tx * ty));
      const int tyi = tr / tx, txi = tr % tx;
      const int32_t* ids = flat_ids + tile_offsets[tile];
      const int count = tile_offsets[tile + 1] - tile_offsets[tile];
      const T* bg = backgrounds ? backgrounds + int64_t(c) * D : nullptr;
      tc.gather(ids, count, means2d, conics, colors, opacities, int64_t(c) * N, D);
      const T* lm = tc.m.data();
      const T* lc = tc.cn.data();
      const T* lo = tc.op.data();
      const T* lt = tc.thr.data();
      const T* lcol = tc.col.data();
      for (int j = tyi * TILE; j < std::min(H, (tyi + 1) * TILE); ++j)
        for (int i = txi * TILE; i < std::min(W, (txi + 1) * TILE); ++i) {
          const int64_t pix = (int64_t(c) * H + j) * W + i;
          T* out = render + pix * D;
          const T px = T(i) + T(0.5), py = T(j) + T(0.5);
          T Tf = T(1);
          int last = 0;
          for (int ch0 = 0; ch0 < D || (D == 0 && ch0 == 0); ch0 += splat::CH_CHUNK) {
            const int nch = std::min(splat::CH_CHUNK, D - ch0);
            T acc[splat::CH_CHUNK];
            for (int k2 = 0; k2 < splat::CH_CHUNK; ++k2) acc[k2] = T(0);
            T Tr = T(1);
            int pos = 0;
            for (; pos < count; ++pos) {
              T dx, dy, sigma, ex;
              bool clamped;
              const T alpha = splat::splat_alpha_thr<T>(lm[2 * pos], lm[2 * pos + 1],
                                                        lc + 3 * pos, lo[pos], lt[pos], px,
                                                        py, dx, dy, sigma, ex, clamped);
              if (alpha == T(0)) continue;
              const T next_T = Tr * (T(1) - alpha);
              if (next_T < T(1e-4)) break;
              const T w = alpha * Tr;
              const T* cl = lcol + size_t(pos) * D + ch0;
              for (int k2 = 0; k2 < nch; ++k2) acc[k2] += w * cl[k2];
              Tr = next_T;
            }
            for (int k2 = 0; k2 < nch; ++k2)
              out[ch0 + k2] = acc[k2] + (bg ? Tr * bg[ch0 + k2] : T(0));
            Tf = Tr;
            last = pos;
            if (D == 0) break;
          }
          alphas[pix] = T(1) - Tf;
          T_final[pix] = Tf;
          last_ids[pix] = last;
        }
    }
  });
}

// Writes v_means2d (C*N,2), v_conics (C*N,3), v_colors (C*N,D), v_opacities (N).
// Tiles are assigned to threads deterministically (longest first, each to the thread
// with the least work so far); per tile the gradients are summed over its pixels in local
// buffers (one slot per list entry) and added once to the thread's buffers.
template <typename T>
void rasterize_bwd(const T* means2d, const T* conics, const T* colors, const T* opacities,
                   const T* backgrounds, int C, int N, int D, int W, int H,
                   const int32_t* tile_offsets, const int32_t* flat_ids, const T* T_final,
                   const int32_t* last_ids, const T* v_render, const T* v_alphas,
                   T* v_means2d, T* v_conics, T* v_colors, T* v_opacities, int n_threads) {
  const int tx = (W + TILE - 1) / TILE, ty = (H + TILE - 1) / TILE;
  const int64_t n_tiles = int64_t(C) * tx * ty;
  const int nt = clamp_threads(n_threads, n_tiles);
  const int64_t CN = int64_t(C) * N;
  // per-thread buffer layout: [means2d 2CN | conics 3CN | colors D*CN | opacities N], in
  // double for both dtypes (sums over many pixels of large, cancelling terms)
  const int64_t per = CN * (5 + D) + N;
  std::vector<double> buf(size_t(nt) * per, 0.0);
  // deterministic longest-first assignment of tiles to threads
  std::vector<std::vector<int64_t>> assign(nt);
  {
    const std::vector<int64_t> order = tiles_by_cost(tile_offsets, n_tiles);
    std::vector<int64_t> load(nt, 0);
    for (int64_t tile : order) {
      int best = 0;
      for (int t = 1; t < nt; ++t)
        if (load[t] < load[best]) best = t;
      load[best] += int64_t(tile_offsets[tile + 1] - tile_offsets[tile]) + 1;
      assign[best].push_back(tile);
    }
  }
  const int LG = 6 + D;  // local gradient slots per list entry: m 2, conic 3, opacity 1, colour D
  parallel_for(nt, nt, [&](int64_t th, int) {
    const int t = int(th);
    double* b = buf.data() + size_t(t) * per;
    double* g_m = b;
    double* g_c = b + 2 * CN;
    double* g_col = b + 5 * CN;
    double* g_o = b + (5 + D) * CN;
    TileCache<T> tc;
    std::vector<double> lg;
    for (int64_t tile : assign[t]) {
      const int c = int(tile / (tx * ty));
      const int tr = int(tile % (tx * ty));
      const int tyi = tr / tx, txi = tr % tx;
      const int32_t* ids = flat_ids + tile_offsets[tile];
      const int count = tile_offsets[tile + 1] - tile_offsets[tile];
      if (count == 0) continue;
      const int64_t cb = int64_t(c) * N;
      const T* bg = backgrounds ? backgrounds + int64_t(c) * D : nullptr;
      tc.gather(ids, count, means2d, conics, colors, opacities, cb, D);
      lg.assign(size_t(count) * LG, 0.0);
      const T* lm = tc.m.data();
      const T* lc = tc.cn.data();
      const T* lo = tc.op.data();
      const T* lt = tc.thr.data();
      const T* lcol = tc.col.data();
      for (int j = tyi * TILE; j < std::min(H, (tyi + 1) * TILE); ++j)
        for (int i = txi * TILE; i < std::min(W, (txi + 1) * TILE); ++i) {
          const int64_t pix = (int64_t(c) * H + j) * W + i;
          const T* vo_pix = v_render + pix * D;
          const T px = T(i) + T(0.5), py = T(j) + T(0.5);
          const T T_fin = T_final[pix];
          const int last = last_ids[pix];
          for (int ch0 = 0; ch0 < D || (D == 0 && ch0 == 0); ch0 += splat::CH_CHUNK) {
            const int nch = std::max(std::min(splat::CH_CHUNK, D - ch0), 0);
            const T* v_out = vo_pix + ch0;
            const T v_alpha = ch0 == 0 ? v_alphas[pix] : T(0);
            T S[splat::CH_CHUNK];
            for (int k = 0; k < splat::CH_CHUNK; ++k) S[k] = T(0);
            for (int k = 0; k < nch; ++k) S[k] = bg ? bg[ch0 + k] : T(0);
            T Tr = T_fin;
            for (int pos = last - 1; pos >= 0; --pos) {
              T dx, dy, sigma, ex;
              bool clamped;
              const T o = lo[pos];
              const T* cn = lc + 3 * pos;
              const T alpha = splat::splat_alpha_thr<T>(lm[2 * pos], lm[2 * pos + 1], cn, o,
                                                        lt[pos], px, py, dx, dy, sigma, ex,
                                                        clamped);
              if (alpha == T(0)) continue;
              double* L = lg.data() + size_t(pos) * LG;
              const T om = T(1) - alpha;
              const T Tk = Tr / om;
              const T* col = lcol + size_t(pos) * D + ch0;
              T v_a = T(0);
              for (int k = 0; k < nch; ++k) {
                L[6 + ch0 + k] += double(alpha * Tk * v_out[k]);
                v_a += v_out[k] * (col[k] - S[k]);
              }
              v_a *= Tk;
              v_a += v_alpha * T_fin / om;
              for (int k = 0; k < nch; ++k) S[k] = alpha * col[k] + om * S[k];
              Tr = Tk;
              if (clamped) continue;
              L[5] += double(v_a * ex);
              const T v_sigma = -v_a * alpha;
              L[2] += double(T(0.5) * v_sigma * dx * dx);
              L[3] += double(v_sigma * dx * dy);
              L[4] += double(T(0.5) * v_sigma * dy * dy);
              L[0] += double(v_sigma * (cn[0] * dx + cn[1] * dy));
              L[1] += double(v_sigma * (cn[2] * dy + cn[1] * dx));
            }
            if (D == 0) break;
          }
        }
      for (int p = 0; p < count; ++p) {
        const double* L = lg.data() + size_t(p) * LG;
        const int gn = ids[p];
        const int64_t g = cb + gn;
        g_m[2 * g] += L[0];
        g_m[2 * g + 1] += L[1];
        for (int k = 0; k < 3; ++k) g_c[3 * g + k] += L[2 + k];
        g_o[gn] += L[5];
        for (int k = 0; k < D; ++k) g_col[g * D + k] += L[6 + k];
      }
    }
  });
  // reduce the per-thread buffers in thread order (parallel over element blocks)
  const int64_t block = 1 << 16;
  const int64_t n_blocks = (per + block - 1) / block;
  std::vector<T> sum(per);
  parallel_for(n_blocks, n_threads, [&](int64_t bi, int) {
    const int64_t e0 = bi * block, e1 = std::min(per, e0 + block);
    for (int64_t e = e0; e < e1; ++e) {
      double s = 0.0;
      for (int t = 0; t < nt; ++t) s += buf[size_t(t) * per + e];
      sum[e] = T(s);
    }
  });
  std::memcpy(v_means2d, sum.data(), sizeof(T) * 2 * CN);
  std::memcpy(v_conics, sum.data() + 2 * CN, sizeof(T) * 3 * CN);
  std::memcpy(v_colors, sum.data() + 5 * CN, sizeof(T) * D * CN);
  std::memcpy(v_opacities, sum.data() + (5 + D) * CN, sizeof(T) * N);
}

}  // namespace

// ------------------------------------------------------------------ C ABI
#define SPLAT_EXPORT extern "C" __attribute__((visibility("default")))

#define SPLAT_DEFINE(T, SUF)                                                                  \
  SPLAT_EXPORT void hr_project_fwd_##SUF(const T* means, const T* quats, const T* scales,    \
                                         const T* viewmats, const T* Ks, int C, int N, int W, \
                                         int H, double near_plane, double far_plane,          \
                                         T* means2d, T* conics, T* depths, int32_t* radii,    \
                                         int n_threads) {                                     \
    project_fwd<T>(means, quats, scales, viewmats, Ks, C, N, W, H, near_plane, far_plane,    \
                   means2d, conics, depths, radii, n_threads);                                \
  }                                                                                           \
  SPLAT_EXPORT void hr_project_bwd_##SUF(                                                     \
      const T* means, const T* quats, const T* scales, const T* viewmats, const T* Ks, int C, \
      int N, int W, int H, double near_plane, double far_plane, const int32_t* radii,         \
      const T* v_means2d, const T* v_conics, const T* v_depths, T* v_means, T* v_quats,       \
      T* v_scales, T* v_viewmats, int n_threads) {                                            \
    project_bwd<T>(means, quats, scales, viewmats, Ks, C, N, W, H, near_plane, far_plane,    \
                   radii, v_means2d, v_conics, v_depths, v_means, v_quats, v_scales,          \
                   v_viewmats, n_threads);                                                    \
  }                                                                                           \
  SPLAT_EXPORT int64_t hr_tiles_per_gauss_##SUF(const T* means2d, const int32_t* radii,      \
                                                int C, int N, int W, int H, int32_t* out) {   \
    return tiles_per_gauss<T>(means2d, radii, C, N, W, H, out);                               \
  }                                                                                           \
  SPLAT_EXPORT void hr_bin_and_sort_##SUF(const T* means2d, const T* depths,                 \
                                          const int32_t* radii, int C, int N, int W, int H,  \
                                          int32_t* tile_offsets, int32_t* flat_ids,           \
                                          int n_threads) {                                    \
    bin_and_sort<T>(means2d, depths, radii, C, N, W, H, tile_offsets, flat_ids, n_threads);  \
  }                                                                                           \
  SPLAT_EXPORT void hr_rasterize_fwd_##SUF(                                                   \
      const T* means2d, const T* conics, const T* colors, const T* opacities,                 \
      const T* backgrounds, int C, int N, int D, int W, int H, const int32_t* tile_offsets,  \
      const int32_t* flat_ids, T* render, T* alphas, T* T_final, int32_t* last_ids,          \
      int n_threads) {                                                                        \
    rasterize_fwd<T>(means2d, conics, colors, opacities, backgrounds, C, N, D, W, H,         \
                     tile_offsets, flat_ids, render, alphas, T_final, last_ids, n_threads);   \
  }                                                                                           \
  SPLAT_EXPORT void hr_rasterize_bwd_##SUF(                                                   \
      const T* means2d, const T* conics, const T* colors, const T* opacities,                 \
      const T* backgrounds, int C, int N, int D, int W, int H, const int32_t* tile_offsets,  \
      const int32_t* flat_ids, const T* T_final, const int32_t* last_ids, const T* v_render, \
      const T* v_alphas, T* v_means2d, T* v_conics, T* v_colors, T* v_opacities,             \
      int n_threads) {                                                                        \
    rasterize_bwd<T>(means2d, conics, colors, opacities, backgrounds, C, N, D, W, H,         \
                     tile_offsets, flat_ids, T_final, last_ids, v_render, v_alphas,           \
                     v_means2d, v_conics, v_colors, v_opacities, n_threads);                  \
  }

SPLAT_DEFINE(float, f32)
SPLAT_DEFINE(double, f64)

SPLAT_EXPORT int hr_splat_abi_version() { return 1; }
