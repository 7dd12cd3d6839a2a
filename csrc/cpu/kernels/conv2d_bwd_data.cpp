// Convolution backward-data: dx[n,ih,iw,c] = sum over (r,s,k) of dy[n,oh,ow,k] * w[r,s,c,k]
// where ih = oh*sh - pt + r*dh and iw = ow*sw - pl + s*dw. Gather form: each dx pixel is
// computed whole by one task, so no races and no thread-count dependence.
//
// Strided layers are decomposed by phase: the pixels of one dx row with the same iw mod sw
// share the set of taps s that reach them, and consecutive such pixels read consecutive dy
// pixels. A tile is kMP pixels of one phase; taps that do not reach it are skipped, so no
// multiply by inserted zeros ever happens.
//
//   cvec:   tile of kMP pixels x NV vectors of channels, broadcast dy[k], FMA repacked
//           weights wt[g][r][s][k][c]  (C >= a vector's worth)
//   kdot:   tile of kMPk pixels x CC channels, vectors along K, one horizontal sum per
//           output at the end  (first layers: C = 3 would leave a C vector mostly empty)
//   simple: plain loops, any groups (vectorised over channels for depthwise)
#include <omp.h>

#include <algorithm>

#include "conv2d_bwd_simd.h"
#include "cpu/conv2d_backward.h"
#include "cpu/memory.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {
namespace {

using namespace bwd;

constexpr int kMP = 6;                       // cvec: pixels per tile
constexpr int kNVc = kRegs == 32 ? 4 : 2;    // cvec: channel vectors per tile (max)
constexpr int kMPk = kRegs == 32 ? 8 : 4;    // kdot: pixels per tile
constexpr int kCCk = 3;                      // kdot: channels per tile (max)

// The filter row r reaches dx row ih from dy row oh (returns false if it does not).
inline bool tap_row(const ConvParams& p, int64_t ih, int64_t r, int64_t& oh) {
  const int64_t t = ih + p.pad_t - r * p.dil_h;
  if (t < 0 || t % p.stride_h) return false;
  oh = t / p.stride_h;
  return oh < p.P;
}

// Filter column s reaches the phase tile starting at iw0 (pixels iw0 + i*sw, i < np) from
// dy columns ow0 + i for i in [lo, hi).
inline bool tap_col(const ConvParams& p, int64_t iw0, int64_t np, int64_t s, int64_t& ow0,
                    int64_t& lo, int64_t& hi) {
  const int64_t u = iw0 + p.pad_l - s * p.dil_w;
  if (u % p.stride_w) return false;
  ow0 = u / p.stride_w;  // exact, possibly negative
  lo = std::max<int64_t>(0, -ow0);
  hi = std::min<int64_t>(np, p.Q - ow0);
  return lo < hi;
}

// ---------------------------------------------------------------------------------------- cvec

template <int NV, bool FULL>
inline void cvec_taps(vf (&acc)[kMP][NV], const float* __restrict wp, int64_t Cgp,
                      const float* __restrict dyrow, int64_t K, int64_t Kg, int64_t ow0,
                      int64_t lo, int64_t hi) {
  const float* dpi[kMP];
#pragma GCC unroll 8
  for (int i = 0; i < kMP; ++i) dpi[i] = (FULL || (i >= lo && i < hi)) ? dyrow + (ow0 + i) * K : nullptr;
  for (int64_t k = 0; k < Kg; ++k) {
    vf wv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[v] = vload(wp + k * Cgp + v * VL);
#pragma GCC unroll 8
    for (int i = 0; i < kMP; ++i) {
      const vf b = vbcast(FULL ? dpi[i][k] : (dpi[i] ? dpi[i][k] : 0.0f));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += b * wv[v];
    }
  }
}

template <int NV>
void cvec_tile(const ConvParams& p, const float* __restrict dy, const float* __restrict wt,
               float* __restrict dx, int64_t n, int64_t ih, int64_t iw0, int64_t np, int64_t g,
               int64_t c0, int ct) {
  const int64_t K = p.K, Kg = p.Kg(), Cg = p.Cg(), Cgp = (Cg + VL - 1) / VL * VL;
  vf acc[kMP][NV];
#pragma GCC unroll 8
  for (int i = 0; i < kMP; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = vf{};
  for (int64_t r = 0; r < p.R; ++r) {
    int64_t oh;
    if (!tap_row(p, ih, r, oh)) continue;
    const float* dyrow = dy + (n * p.P + oh) * p.Q * K + g * Kg;
    for (int64_t s = 0; s < p.S; ++s) {
      int64_t ow0, lo, hi;
      if (!tap_col(p, iw0, np, s, ow0, lo, hi)) continue;
      const float* wp = wt + ((g * p.R + r) * p.S + s) * Kg * Cgp + c0;
      if (lo == 0 && hi == kMP)
        cvec_taps<NV, true>(acc, wp, Cgp, dyrow, K, Kg, ow0, lo, hi);
      else
        cvec_taps<NV, false>(acc, wp, Cgp, dyrow, K, Kg, ow0, lo, hi);
    }
  }
  for (int64_t i = 0; i < np; ++i) {
    float* dst = dx + ((n * p.H + ih) * p.W + iw0 + i * p.stride_w) * p.C + g * Cg + c0;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) vstore_n(dst + v * VL, acc[i][v], v == NV - 1 ? ct : VL);
  }
}

using CvecFn = void (*)(const ConvParams&, const float*, const float*, float*, int64_t,
                        int64_t, int64_t, int64_t, int64_t, int64_t, int);
const CvecFn kCvec[4] = {&cvec_tile<1>, &cvec_tile<2>, &cvec_tile<3>, &cvec_tile<4>};

// ---------------------------------------------------------------------------------------- kdot

template <int CC, bool FULL, bool TAIL>
inline void kdot_step(vf (&acc)[kMPk][CC], const float* __restrict wp, int64_t K,
                      const float* __restrict dyrow, int64_t ow0, int64_t lo, int64_t hi,
                      int64_t koff, int kt) {
  vf wv[CC];
#pragma GCC unroll 4
  for (int c = 0; c < CC; ++c) wv[c] = TAIL ? vload_n(wp + c * K + koff, kt) : vload(wp + c * K + koff);
#pragma GCC unroll 8
  for (int i = 0; i < kMPk; ++i) {
    if (!FULL && (i < lo || i >= hi)) continue;
    const float* dp = dyrow + (ow0 + i) * K + koff;
    const vf d = TAIL ? vload_n(dp, kt) : vload(dp);
#pragma GCC unroll 4
    for (int c = 0; c < CC; ++c) acc[i][c] += d * wv[c];
  }
}

template <int CC, bool FULL>
inline void kdot_taps(vf (&acc)[kMPk][CC], const float* wp, int64_t K, int64_t Kg,
                      const float* dyrow, int64_t ow0, int64_t lo, int64_t hi) {
  const int64_t kfull = Kg / VL * VL;
  for (int64_t koff = 0; koff < kfull; koff += VL)
    kdot_step<CC, FULL, false>(acc, wp, K, dyrow, ow0, lo, hi, koff, VL);
  if (kfull < Kg)
    kdot_step<CC, FULL, true>(acc, wp, K, dyrow, ow0, lo, hi, kfull, int(Kg - kfull));
}

template <int CC>
void kdot_tile(const ConvParams& p, const float* __restrict dy, const float* __restrict w,
               float* __restrict dx, int64_t n, int64_t ih, int64_t iw0, int64_t np, int64_t g,
               int64_t c0) {
  const int64_t K = p.K, Kg = p.Kg(), Cg = p.Cg();
  vf acc[kMPk][CC];
#pragma GCC unroll 8
  for (int i = 0; i < kMPk; ++i)
#pragma GCC unroll 4
    for (int c = 0; c < CC; ++c) acc[i][c] = vf{};
  for (int64_t r = 0; r < p.R; ++r) {
    int64_t oh;
    if (!tap_row(p, ih, r, oh)) continue;
    const float* dyrow = dy + (n * p.P + oh) * p.Q * K + g * Kg;
    for (int64_t s = 0; s < p.S; ++s) {
      int64_t ow0, lo, hi;
      if (!tap_col(p, iw0, np, s, ow0, lo, hi)) continue;
      const float* wp = w + ((r * p.S + s) * Cg + c0) * K + g * Kg;
      if (lo == 0 && hi == kMPk)
        kdot_taps<CC, true>(acc, wp, K, Kg, dyrow, ow0, lo, hi);
      else
        kdot_taps<CC, false>(acc, wp, K, Kg, dyrow, ow0, lo, hi);
    }
  }
  for (int64_t i = 0; i < np; ++i) {
    float* dst = dx + ((n * p.H + ih) * p.W + iw0 + i * p.stride_w) * p.C + g * Cg + c0;
#pragma GCC unroll 4
    for (int c = 0; c < CC; ++c) dst[c] = vsum(acc[i][c]);
  }
}

using KdotFn = void (*)(const ConvParams&, const float*, const float*, float*, int64_t,
                        int64_t, int64_t, int64_t, int64_t, int64_t);
const KdotFn kKdot[3] = {&kdot_tile<1>, &kdot_tile<2>, &kdot_tile<3>};

}  // namespace

void conv2d_bwd_data_cvec(const ConvParams& p, const float* dy, const float* w, float* dx) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), G = p.groups, R = p.R, S = p.S;
  const int64_t Cgp = (Cg + VL - 1) / VL * VL;
  // wt[g][r][s][k][c]: c contiguous and zero-padded to whole vectors.
  float* wt = workspace(40, size_t(G * R * S * Kg * Cgp));
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t grs = 0; grs < G * R * S; ++grs) {
    const int64_t g = grs / (R * S), rs = grs % (R * S);
    float* dst = wt + grs * Kg * Cgp;
    for (int64_t k = 0; k < Kg; ++k) {
      for (int64_t c = 0; c < Cg; ++c) dst[k * Cgp + c] = w[(rs * Cg + c) * p.K + g * Kg + k];
      for (int64_t c = Cg; c < Cgp; ++c) dst[k * Cgp + c] = 0.0f;
    }
  }
  const Blocks cb(Cgp / VL, kNVc);
  const int64_t phases = std::min(p.stride_w, p.W);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t row = 0; row < p.N * p.H; ++row) {
    const int64_t n = row / p.H, ih = row % p.H;
    for (int64_t g = 0; g < G; ++g)
      for (int64_t b = 0; b < cb.count; ++b) {
        const int64_t nv = cb.size(b), c0 = cb.start(b) * VL;
        const int ct = int(std::min<int64_t>(VL, Cg - (c0 + (nv - 1) * VL)));
        for (int64_t f = 0; f < phases; ++f) {
          const int64_t count = (p.W - f + p.stride_w - 1) / p.stride_w;
          for (int64_t t0 = 0; t0 < count; t0 += kMP)
            kCvec[nv - 1](p, dy, wt, dx, n, ih, f + t0 * p.stride_w,
                          std::min<int64_t>(kMP, count - t0), g, c0, ct);
        }
      }
  }
}

void conv2d_bwd_data_kdot(const ConvParams& p, const float* dy, const float* w, float* dx) {
  const Blocks cb(p.Cg(), kCCk);
  const int64_t phases = std::min(p.stride_w, p.W);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t row = 0; row < p.N * p.H; ++row) {
    const int64_t n = row / p.H, ih = row % p.H;
    for (int64_t g = 0; g < p.groups; ++g)
      for (int64_t b = 0; b < cb.count; ++b)
        for (int64_t f = 0; f < phases; ++f) {
          const int64_t count = (p.W - f + p.stride_w - 1) / p.stride_w;
          for (int64_t t0 = 0; t0 < count; t0 += kMPk)
            kKdot[cb.size(b) - 1](p, dy, w, dx, n, ih, f + t0 * p.stride_w,
                                  std::min<int64_t>(kMPk, count - t0), g, cb.start(b));
        }
  }
}

void conv2d_bwd_data_simple(const ConvParams& p, const float* dy, const float* w, float* dx) {
  const int64_t C = p.C, K = p.K, Cg = p.Cg(), Kg = p.Kg(), G = p.groups;
  const bool depthwise = Cg == 1 && Kg == 1;
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t row = 0; row < p.N * p.H; ++row) {
    const int64_t n = row / p.H, ih = row % p.H;
    for (int64_t iw = 0; iw < p.W; ++iw) {
      float* __restrict d = dx + ((n * p.H + ih) * p.W + iw) * C;
      for (int64_t c = 0; c < C; ++c) d[c] = 0.0f;
      for (int64_t r = 0; r < p.R; ++r) {
        int64_t oh;
        if (!tap_row(p, ih, r, oh)) continue;
        for (int64_t s = 0; s < p.S; ++s) {
          int64_t ow, lo, hi;
          if (!tap_col(p, iw, 1, s, ow, lo, hi)) continue;
          const float* __restrict dp = dy + ((n * p.P + oh) * p.Q + ow) * K;
          const float* __restrict wp = w + (r * p.S + s) * Cg * K;
          if (depthwise) {
            for (int64_t g = 0; g < G; ++g) d[g] += dp[g] * wp[g];
            continue;
          }
          for (int64_t g = 0; g < G; ++g)
            for (int64_t c = 0; c < Cg; ++c) {
              float a = 0.0f;
              for (int64_t k = 0; k < Kg; ++k) a += dp[g * Kg + k] * wp[c * K + g * Kg + k];
              d[g * Cg + c] += a;
            }
        }
      }
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
