// splat_math.h -- the per-Gaussian and per-pixel math of humanrecon.splat, with its
// hand-written derivatives, shared verbatim by the CPU build (g++) and the CUDA kernels
// (nvcc / NVRTC).  `humanrecon/splat/conventions.md` is the specification; the torch
// reference `_torch_impl.py` is the oracle.
//
// Rules for this file: plain scalars and small structs only, every function
// `__host__ __device__ inline`, templated on the scalar type T (float or double); no
// torch or standard-library headers when compiled for the device (NVRTC has none).
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define SPLAT_HD __host__ __device__ __forceinline__
#else
#include <cmath>
#ifndef __host__
#define __host__
#endif
#ifndef __device__
#define __device__
#endif
#define SPLAT_HD inline
#endif

namespace splat {

constexpr int TILE = 16;
// Channels composited per pass of the per-pixel loops (callers loop over chunks).
constexpr int CH_CHUNK = 4;

// ---------------------------------------------------------------- scalar helpers
SPLAT_HD float s_sqrt(float x) { return sqrtf(x); }
SPLAT_HD double s_sqrt(double x) { return sqrt(x); }
SPLAT_HD float s_exp(float x) { return expf(x); }
SPLAT_HD double s_exp(double x) { return exp(x); }
SPLAT_HD float s_ceil(float x) { return ceilf(x); }
SPLAT_HD double s_ceil(double x) { return ceil(x); }
SPLAT_HD float s_floor(float x) { return floorf(x); }
SPLAT_HD double s_floor(double x) { return floor(x); }
template <typename T> SPLAT_HD T s_max(T a, T b) { return a > b ? a : b; }
template <typename T> SPLAT_HD T s_min(T a, T b) { return a < b ? a : b; }
SPLAT_HD int i_max(int a, int b) { return a > b ? a : b; }
SPLAT_HD int i_min(int a, int b) { return a < b ? a : b; }

// ---------------------------------------------------------------- 3x3 matrices
template <typename T> struct Mat3 { T m[3][3]; };
template <typename T> struct Vec3 { T x, y, z; };

template <typename T> SPLAT_HD Mat3<T> mat3_zero() {
  Mat3<T> r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r.m[i][j] = T(0);
  return r;
}
template <typename T> SPLAT_HD Mat3<T> mat3_mul(const Mat3<T>& a, const Mat3<T>& b) {
  Mat3<T> r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      T s = T(0);
      for (int k = 0; k < 3; ++k) s += a.m[i][k] * b.m[k][j];
      r.m[i][j] = s;
    }
  return r;
}
template <typename T> SPLAT_HD Mat3<T> mat3_transpose(const Mat3<T>& a) {
  Mat3<T> r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r.m[i][j] = a.m[j][i];
  return r;
}
// a * b^T
template <typename T> SPLAT_HD Mat3<T> mat3_mul_bt(const Mat3<T>& a, const Mat3<T>& b) {
  return mat3_mul(a, mat3_transpose(b));
}

// ---------------------------------------------------------------- quaternion -> R
// q = (w, x, y, z), already normalised.
template <typename T> SPLAT_HD Mat3<T> quat_to_rotmat(T w, T x, T y, T z) {
  Mat3<T> R;
  R.m[0][0] = T(1) - T(2) * (y * y + z * z);
  R.m[0][1] = T(2) * (x * y - w * z);
  R.m[0][2] = T(2) * (x * z + w * y);
  R.m[1][0] = T(2) * (x * y + w * z);
  R.m[1][1] = T(1) - T(2) * (x * x + z * z);
  R.m[1][2] = T(2) * (y * z - w * x);
  R.m[2][0] = T(2) * (x * z - w * y);
  R.m[2][1] = T(2) * (y * z + w * x);
  R.m[2][2] = T(1) - T(2) * (x * x + y * y);
  return R;
}

// Gradient of L w.r.t. the normalised quaternion given dL/dR.
template <typename T>
SPLAT_HD void quat_to_rotmat_bwd(T w, T x, T y, T z, const Mat3<T>& g, T out[4]) {
  const T(*G)[3] = g.m;
  out[0] = T(2) * (-z * G[0][1] + y * G[0][2] + z * G[1][0] - x * G[1][2] - y * G[2][0] +
                   x * G[2][1]);
  out[1] = T(2) * (y * G[0][1] + z * G[0][2] + y * G[1][0] - w * G[1][2] + z * G[2][0] +
                   w * G[2][1]) -
           T(4) * x * (G[1][1] + G[2][2]);
  out[2] = T(2) * (x * G[0][1] + w * G[0][2] + x * G[1][0] + z * G[1][2] - w * G[2][0] +
                   z * G[2][1]) -
           T(4) * y * (G[0][0] + G[2][2]);
  out[3] = T(2) * (-w * G[0][1] + x * G[0][2] + w * G[1][0] + y * G[1][2] + x * G[2][0] +
                   y * G[2][1]) -
           T(4) * z * (G[0][0] + G[1][1]);
}

// ---------------------------------------------------------------- projection
template <typename T> struct Camera {
  Mat3<T> R;  // world -> camera rotation (top-left of the viewmat)
  T t[3];     // translation
  T fx, fy, cx, cy;
  int width, height;
  T near_plane, far_plane;
};

template <typename T>
SPLAT_HD Camera<T> load_camera(const T* viewmat, const T* K, int width, int height,
                               T near_plane, T far_plane) {
  Camera<T> cam;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) cam.R.m[i][j] = viewmat[i * 4 + j];
    cam.t[i] = viewmat[i * 4 + 3];
  }
  cam.fx = K[0];
  cam.cx = K[2];
  cam.fy = K[4];
  cam.cy = K[5];
  cam.width = width;
  cam.height = height;
  cam.near_plane = near_plane;
  cam.far_plane = far_plane;
  return cam;
}

template <typename T> struct ProjOut {
  T mx, my;            // 2D mean
  T conic[3];          // xx, xy, yy
  T depth;             // camera-frame z
  int radius;          // 0: culled
};

// Intermediates recomputed by the backward pass (all cheap).
template <typename T> struct ProjState {
  T qn[4];       // normalised quaternion
  T qnorm;       // |q|
  Mat3<T> Rq;    // rotation of the Gaussian
  Mat3<T> M;     // Rq * diag(s)
  Mat3<T> Sigma; // world covariance
  Mat3<T> Sc;    // camera covariance
  T p[3];        // camera-frame mean
  T tx, ty;      // clamped
  bool clamp_x, clamp_y;  // clamp active (gradient w.r.t. p.x / p.y blocked)
  T lim_x, lim_y;         // the active limit (signed) when clamped
  T J[2][3];
  T a, b, c;     // Sigma2D (incl. +0.3)
  T det;
};

// Returns the depth cull decision (true: in front, within [near, far]) and fills state.
template <typename T>
SPLAT_HD void project_gaussian(const T* mean, const T* quat, const T* scale,
                               const Camera<T>& cam, ProjOut<T>& out, ProjState<T>& st) {
  out.mx = out.my = T(0);
  out.conic[0] = out.conic[1] = out.conic[2] = T(0);
  out.radius = 0;
  const Mat3<T>& Rv = cam.R;
  for (int i = 0; i < 3; ++i)
    st.p[i] = Rv.m[i][0] * mean[0] + Rv.m[i][1] * mean[1] + Rv.m[i][2] * mean[2] + cam.t[i];
  const T z = st.p[2];
  out.depth = z;
  if (!(z > cam.near_plane && z < cam.far_plane)) return;

  // Gaussian covariance.
  T qn2 = quat[0] * quat[0] + quat[1] * quat[1] + quat[2] * quat[2] + quat[3] * quat[3];
  st.qnorm = s_sqrt(qn2);
  for (int i = 0; i < 4; ++i) st.qn[i] = quat[i] / st.qnorm;
  st.Rq = quat_to_rotmat(st.qn[0], st.qn[1], st.qn[2], st.qn[3]);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) st.M.m[i][j] = st.Rq.m[i][j] * scale[j];
  st.Sigma = mat3_mul_bt(st.M, st.M);
  st.Sc = mat3_mul_bt(mat3_mul(Rv, st.Sigma), Rv);

  // EWA with clamping.
  const T W = T(cam.width), H = T(cam.height);
  const T tan_fovx = T(0.5) * W / cam.fx, tan_fovy = T(0.5) * H / cam.fy;
  const T lim_x_pos = (W - cam.cx) / cam.fx + T(0.3) * tan_fovx;
  const T lim_x_neg = cam.cx / cam.fx + T(0.3) * tan_fovx;
  const T lim_y_pos = (H - cam.cy) / cam.fy + T(0.3) * tan_fovy;
  const T lim_y_neg = cam.cy / cam.fy + T(0.3) * tan_fovy;
  const T ux = st.p[0] / z, uy = st.p[1] / z;
  st.clamp_x = false;
  st.clamp_y = false;
  T cux = ux, cuy = uy;
  if (ux < -lim_x_neg) { cux = -lim_x_neg; st.clamp_x = true; }
  else if (ux > lim_x_pos) { cux = lim_x_pos; st.clamp_x = true; }
  if (uy < -lim_y_neg) { cuy = -lim_y_neg; st.clamp_y = true; }
  else if (uy > lim_y_pos) { cuy = lim_y_pos; st.clamp_y = true; }
  st.lim_x = cux;
  st.lim_y = cuy;
  st.tx = z * cux;
  st.ty = z * cuy;
  const T z2 = z * z;
  st.J[0][0] = cam.fx / z;
  st.J[0][1] = T(0);
  st.J[0][2] = -cam.fx * st.tx / z2;
  st.J[1][0] = T(0);
  st.J[1][1] = cam.fy / z;
  st.J[1][2] = -cam.fy * st.ty / z2;
  // S = J Sc J^T
  T JS[2][3];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      JS[i][j] = st.J[i][0] * st.Sc.m[0][j] + st.J[i][1] * st.Sc.m[1][j] +
                 st.J[i][2] * st.Sc.m[2][j];
  T S[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      S[i][j] = JS[i][0] * st.J[j][0] + JS[i][1] * st.J[j][1] + JS[i][2] * st.J[j][2];
  st.a = S[0][0] + T(0.3);
  st.b = S[0][1];
  st.c = S[1][1] + T(0.3);

  out.mx = cam.fx * ux + cam.cx;
  out.my = cam.fy * uy + cam.cy;

  st.det = st.a * st.c - st.b * st.b;
  if (!(st.det > T(0))) {
    out.mx = out.my = T(0);
    return;
  }
  out.conic[0] = st.c / st.det;
  out.conic[1] = -st.b / st.det;
  out.conic[2] = st.a / st.det;

  const T mid = T(0.5) * (st.a + st.c);
  const T lambda = mid + s_sqrt(s_max(T(0.1), mid * mid - st.det));
  const T r = s_ceil(T(3) * s_sqrt(lambda));
  const bool inside = (out.mx + r > T(0)) && (out.mx - r < W) && (out.my + r > T(0)) &&
                      (out.my - r < H);
  if (!inside) {
    out.mx = out.my = T(0);
    out.conic[0] = out.conic[1] = out.conic[2] = T(0);
    return;
  }
  out.radius = int(r);
}

// Backward of project_gaussian for one (camera, Gaussian) pair that was NOT culled.
// Inputs: dL/d(means2d), dL/d(conic), dL/d(depth).  Outputs (overwritten):
// v_mean[3], v_quat[4], v_scale[3], v_view[12] (row-major 3x4 block of the viewmat).
template <typename T>
SPLAT_HD void project_gaussian_bwd(const T* mean, const T* scale, const Camera<T>& cam,
                                   const ProjState<T>& st, const T v_m[2],
                                   const T v_conic[3], T v_depth, T* v_mean, T* v_quat,
                                   T* v_scale, T* v_view) {
  const Mat3<T>& Rv = cam.R;
  const T a = st.a, b = st.b, c = st.c, det = st.det;
  // conic P = Sigma2D^-1 = (c, -b, a)/det: dL/dSigma2D = -P Gs P with Gs the symmetric
  // gradient of P.  Written with P itself (not 1/det^2), which keeps float32 accurate for
  // nearly singular 2D covariances.
  const T id = T(1) / det;
  const T p0 = c * id, p1 = -b * id, p2 = a * id;
  const T g0 = v_conic[0], g1h = T(0.5) * v_conic[1], g2 = v_conic[2];
  // Q = Gs P
  const T q00 = g0 * p0 + g1h * p1, q01 = g0 * p1 + g1h * p2;
  const T q10 = g1h * p0 + g2 * p1, q11 = g1h * p1 + g2 * p2;
  const T v_a = -(p0 * q00 + p1 * q10);
  const T v_b = -T(2) * (p0 * q01 + p1 * q11);
  const T v_c = -(p1 * q01 + p2 * q11);
  // symmetric gradient of S = J Sc J^T
  T G[2][2] = {{v_a, T(0.5) * v_b}, {T(0.5) * v_b, v_c}};
  // dL/dSc = J^T G J ; dL/dJ = 2 G J Sc
  Mat3<T> vSc;
  T GJ[2][3];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) GJ[i][j] = G[i][0] * st.J[0][j] + G[i][1] * st.J[1][j];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) vSc.m[i][j] = st.J[0][i] * GJ[0][j] + st.J[1][i] * GJ[1][j];
  T vJ[2][3];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      vJ[i][j] = T(2) * (GJ[i][0] * st.Sc.m[0][j] + GJ[i][1] * st.Sc.m[1][j] +
                         GJ[i][2] * st.Sc.m[2][j]);

  const T z = st.p[2], z2 = z * z, z3 = z2 * z;
  T v_p[3] = {T(0), T(0), v_depth};
  // J entries
  v_p[2] += vJ[0][0] * (-cam.fx / z2) + vJ[1][1] * (-cam.fy / z2);
  T v_tx = vJ[0][2] * (-cam.fx / z2);
  T v_ty = vJ[1][2] * (-cam.fy / z2);
  v_p[2] += vJ[0][2] * (T(2) * cam.fx * st.tx / z3) + vJ[1][2] * (T(2) * cam.fy * st.ty / z3);
  // tx = z * clamp(px / z)
  if (st.clamp_x) v_p[2] += v_tx * st.lim_x;
  else v_p[0] += v_tx;
  if (st.clamp_y) v_p[2] += v_ty * st.lim_y;
  else v_p[1] += v_ty;
  // 2D mean
  v_p[0] += v_m[0] * cam.fx / z;
  v_p[1] += v_m[1] * cam.fy / z;
  v_p[2] += -(v_m[0] * cam.fx * st.p[0] + v_m[1] * cam.fy * st.p[1]) / z2;

  // p = Rv mean + t
  for (int j = 0; j < 3; ++j)
    v_mean[j] = Rv.m[0][j] * v_p[0] + Rv.m[1][j] * v_p[1] + Rv.m[2][j] * v_p[2];
  // Sc = Rv Sigma Rv^T: dL/dSigma = Rv^T vSc Rv ; dL/dRv = 2 vSc Rv Sigma (symmetric)
  const Mat3<T> vScRv = mat3_mul(vSc, Rv);
  const Mat3<T> vSigma = mat3_mul(mat3_transpose(Rv), vScRv);
  const Mat3<T> vRv = mat3_mul(vScRv, st.Sigma);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) v_view[i * 4 + j] = T(2) * vRv.m[i][j] + v_p[i] * mean[j];
    v_view[i * 4 + 3] = v_p[i];
  }
  // Sigma = M M^T: dL/dM = 2 vSigma M
  const Mat3<T> vM = mat3_mul(vSigma, st.M);
  Mat3<T> vR;
  for (int j = 0; j < 3; ++j) {
    T s = T(0);
    for (int i = 0; i < 3; ++i) {
      vR.m[i][j] = T(2) * vM.m[i][j] * scale[j];
      s += T(2) * vM.m[i][j] * st.Rq.m[i][j];
    }
    v_scale[j] = s;
  }
  T v_qn[4];
  quat_to_rotmat_bwd(st.qn[0], st.qn[1], st.qn[2], st.qn[3], vR, v_qn);
  // qn = q / |q|
  const T dot = v_qn[0] * st.qn[0] + v_qn[1] * st.qn[1] + v_qn[2] * st.qn[2] +
                v_qn[3] * st.qn[3];
  for (int i = 0; i < 4; ++i) v_quat[i] = (v_qn[i] - st.qn[i] * dot) / st.qnorm;
}

// Backward for a culled (camera, Gaussian) pair: only the depth z = (R_v mean + t)_z is
// still an output that depends on the inputs (means2d and conics are constant 0).
template <typename T>
SPLAT_HD void project_depth_bwd(const T* mean, const Camera<T>& cam, T v_depth, T* v_mean,
                                T* v_quat, T* v_scale, T* v_view) {
  for (int j = 0; j < 3; ++j) v_mean[j] = cam.R.m[2][j] * v_depth;
  for (int j = 0; j < 4; ++j) v_quat[j] = T(0);
  for (int j = 0; j < 3; ++j) v_scale[j] = T(0);
  for (int k = 0; k < 12; ++k) v_view[k] = T(0);
  for (int j = 0; j < 3; ++j) v_view[8 + j] = v_depth * mean[j];
  v_view[11] = v_depth;
}

// ---------------------------------------------------------------- tiles
// Tile range [x0, x1) x [y0, y1) touched by the box m +- r, clipped to the grid.
template <typename T>
SPLAT_HD void tile_range(T mx, T my, int radius, int tiles_x, int tiles_y, int& x0, int& x1,
                         int& y0, int& y1) {
  const T r = T(radius);
  const T ts = T(TILE);
  x0 = i_min(i_max(int(s_floor((mx - r) / ts)), 0), tiles_x);
  x1 = i_min(i_max(int(s_ceil((mx + r) / ts)), 0), tiles_x);
  y0 = i_min(i_max(int(s_floor((my - r) / ts)), 0), tiles_y);
  y1 = i_min(i_max(int(s_ceil((my + r) / ts)), 0), tiles_y);
  if (radius <= 0) { x1 = x0; y1 = y0; }
}

// ---------------------------------------------------------------- per pixel
// One splat at one pixel: returns alpha, or 0 when skipped (sigma < 0 or alpha < 1/255).
template <typename T>
SPLAT_HD T splat_alpha(T mx, T my, const T* conic, T opacity, T px, T py, T& dx, T& dy,
                       T& sigma, T& ex, bool& clamped) {
  dx = mx - px;
  dy = my - py;
  sigma = T(0.5) * (conic[0] * dx * dx + conic[2] * dy * dy) + conic[1] * dx * dy;
  if (sigma < T(0)) return T(0);
  ex = s_exp(-sigma);
  T alpha = opacity * ex;
  clamped = false;
  if (alpha > T(0.99)) { alpha = T(0.99); clamped = true; }
  if (alpha < T(1.0 / 255.0)) return T(0);
  return alpha;
}

// Conservative skip bound for splat_alpha: with sigma > alpha_skip_sigma(o) the splat's
// alpha o exp(-sigma) is certainly below 1/255 (the bound is log(255 o) plus a margin far
// above float rounding), so the exp can be skipped; at or below it splat_alpha decides
// exactly as before.  o = 0 gives -inf (always skip: alpha = 0); o < 0 or NaN gives NaN
// (never skip: the exact test runs).
template <typename T> SPLAT_HD T alpha_skip_sigma(T opacity) {
  return T(log(255.0 * double(opacity)) + 1e-3);
}

// splat_alpha with the precomputed bound thr = alpha_skip_sigma(opacity): identical
// results, but no exp for splats that cannot reach 1/255.
template <typename T>
SPLAT_HD T splat_alpha_thr(T mx, T my, const T* conic, T opacity, T thr, T px, T py, T& dx,
                           T& dy, T& sigma, T& ex, bool& clamped) {
  dx = mx - px;
  dy = my - py;
  sigma = T(0.5) * (conic[0] * dx * dx + conic[2] * dy * dy) + conic[1] * dx * dy;
  if (sigma < T(0) || sigma > thr) return T(0);
  ex = s_exp(-sigma);
  T alpha = opacity * ex;
  clamped = false;
  if (alpha > T(0.99)) { alpha = T(0.99); clamped = true; }
  if (alpha < T(1.0 / 255.0)) return T(0);
  return alpha;
}

// Forward compositing of one pixel over its tile's depth-sorted list `ids[0..count)` of
// Gaussian indices (0..N-1) of camera c; cam_base = c * N indexes the per-camera arrays.
// Channels [ch0, ch0 + nch) with nch <= CH_CHUNK.  Writes out[nch] (background added),
// and returns the final transmittance and the list position after the last Gaussian
// looked at (the backward pass walks back from there).
template <typename T>
SPLAT_HD void pixel_forward(const int* ids, int count, const T* means2d, const T* conics,
                            const T* colors, const T* opacities, long long cam_base, int D, int ch0,
                            int nch, const T* bg, T px, T py, T* out, T& T_final,
                            int& last) {
  T acc[CH_CHUNK];
  for (int k = 0; k < CH_CHUNK; ++k) acc[k] = T(0);
  T Tr = T(1);
  int pos = 0;
  for (; pos < count; ++pos) {
    const int gn = ids[pos];          // Gaussian index (opacities are per Gaussian)
    const long long g = cam_base + gn;  // index into the (C*N) flattened arrays
    T dx, dy, sigma, ex;
    bool clamped;
    const T alpha = splat_alpha(means2d[2 * g], means2d[2 * g + 1], conics + 3 * g,
                                opacities[gn], px, py, dx, dy, sigma, ex, clamped);
    if (alpha == T(0)) continue;
    const T next_T = Tr * (T(1) - alpha);
    if (next_T < T(1e-4)) break;
    const T w = alpha * Tr;
    const T* col = colors + (long long)g * D + ch0;
    for (int k = 0; k < nch; ++k) acc[k] += w * col[k];
    Tr = next_T;
  }
  for (int k = 0; k < nch; ++k) out[k] = acc[k] + (bg ? Tr * bg[ch0 + k] : T(0));
  T_final = Tr;
  last = pos;
}

// Gradient sink: plain accumulation (CPU, per-thread buffers).  The CUDA file defines an
// atomic one with the same interface.
struct PlainAdd {
  template <typename A, typename T> static SPLAT_HD void add(A* p, T v) { *p += A(v); }
};

// Backward of pixel_forward for one pixel and one channel chunk.  v_out[nch]: dL/d(colour
// channels ch0..), v_alpha: dL/d(1 - T_final) (only pass it for the first chunk, else 0).
// Accumulates into v_means2d (C*N,2), v_conics (C*N,3), v_colors (C*N,D), v_opacities (N),
// of scalar type A (the CPU build accumulates float32 gradients in double: these are sums
// over many pixels of large, cancelling terms).
template <typename T, typename Add, typename A>
SPLAT_HD void pixel_backward(const int* ids, int last, const T* means2d, const T* conics,
                             const T* colors, const T* opacities, long long cam_base, int D,
                             int ch0, int nch, const T* bg, T px, T py, T T_final,
                             const T* v_out, T v_alpha, A* v_means2d, A* v_conics,
                             A* v_colors, A* v_opacities) {
  T S[CH_CHUNK];  // colour composited behind the current Gaussian (normalised)
  for (int k = 0; k < CH_CHUNK; ++k) S[k] = T(0);
  for (int k = 0; k < nch; ++k) S[k] = bg ? bg[ch0 + k] : T(0);
  T Tr = T_final;
  for (int pos = last - 1; pos >= 0; --pos) {
    const int gn = ids[pos];
    const long long g = cam_base + gn;
    T dx, dy, sigma, ex;
    bool clamped;
    const T o = opacities[gn];
    const T alpha = splat_alpha(means2d[2 * g], means2d[2 * g + 1], conics + 3 * g, o, px,
                                py, dx, dy, sigma, ex, clamped);
    if (alpha == T(0)) continue;
    const T om = T(1) - alpha;
    const T Tk = Tr / om;  // transmittance in front of this Gaussian
    const T* col = colors + (long long)g * D + ch0;
    T v_a = T(0);
    for (int k = 0; k < nch; ++k) {
      Add::add(v_colors + (long long)g * D + ch0 + k, alpha * Tk * v_out[k]);
      v_a += v_out[k] * (col[k] - S[k]);
    }
    v_a *= Tk;
    v_a += v_alpha * T_final / om;
    for (int k = 0; k < nch; ++k) S[k] = alpha * col[k] + om * S[k];
    Tr = Tk;
    if (clamped) continue;
    // alpha = o exp(-sigma)
    Add::add(v_opacities + gn, v_a * ex);
    const T v_sigma = -v_a * alpha;
    const T* cn = conics + 3 * g;
    Add::add(v_conics + 3 * g, T(0.5) * v_sigma * dx * dx);
    Add::add(v_conics + 3 * g + 1, v_sigma * dx * dy);
    Add::add(v_conics + 3 * g + 2, T(0.5) * v_sigma * dy * dy);
    Add::add(v_means2d + 2 * g, v_sigma * (cn[0] * dx + cn[1] * dy));
    Add::add(v_means2d + 2 * g + 1, v_sigma * (cn[2] * dy + cn[1] * dx));
  }
}

}  // namespace splat
