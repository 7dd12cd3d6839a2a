// Convolution backward-weight and bias.
//
// dw[r,s,c,k] = sum over (n,oh,ow) of x[n, oh*sh - pt + r*dh, ow*sw - pl + s*dw, g*Cg + c]
//                                      * dy[n,oh,ow,g*Kg + k]
// For one filter row r the rows j = s*Cg + c of dw[r] form an (S*Cg) x Kg matrix, and row j
// reads x at a fixed offset from the pixel's base address: one GEMM over all output pixels,
// with M = S*Cg even when C = 3 (first layers: 21 rows for a 7x7, not 3).
//
// tiled: register tile of MC rows x NV vectors along K, accumulated over a block of output
// rows, then added into dw. Each thread owns a fixed set of tiles and walks every pixel in
// the same order, so each dw element is one sequential sum whatever the thread count: no
// partial copies of dw, no merge, and no working memory at all. Pixels whose tile rows fall
// partly in the padding take a checked path; the rest read x directly (no padded copy).
//
// bias: fixed chunks of pixels (independent of the thread count), partials summed in order.
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

constexpr int kNVw = kRegs == 32 ? 4 : 2;    // K vectors per tile (max)
constexpr int kAcc = kRegs == 32 ? 24 : 12;  // accumulators per tile (max)
constexpr int kMCmax = 8;

struct DwTile {
  int64_t n, oh0, oh1, ow0, ow1, r, g, j0, k0;
  int kt;  // lanes used in the last K vector
};

template <int MC, int NV, bool TAIL, bool CHECK>
inline void dw_pixels(vf (&acc)[MC][NV], const float* __restrict xrow,
                      const float* __restrict dyrow, const int64_t (&off)[MC],
                      const int64_t (&col)[MC], int64_t ow_a, int64_t ow_b, int64_t xstep,
                      int64_t sw, int64_t W, int64_t K, int kt) {
  for (int64_t ow = ow_a; ow < ow_b; ++ow) {
    const float* dp = dyrow + ow * K;
    vf d[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      d[v] = (TAIL && v == NV - 1) ? vload_n(dp + v * VL, kt) : vload(dp + v * VL);
    const float* xb = xrow + ow * xstep;
#pragma GCC unroll 8
    for (int i = 0; i < MC; ++i) {
      float xv;
      if (CHECK) {
        const int64_t iw = ow * sw + col[i];
        xv = (iw >= 0 && iw < W) ? xb[off[i]] : 0.0f;
      } else {
        xv = xb[off[i]];
      }
      const vf b = vbcast(xv);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += b * d[v];
    }
  }
}

template <int MC, int NV, bool TAIL>
void dw_tile(const ConvParams& p, const float* __restrict x, const float* __restrict dy,
             float* __restrict dw, const DwTile& t) {
  const int64_t C = p.C, K = p.K, Cg = p.Cg(), Kg = p.Kg(), sw = p.stride_w, W = p.W;
  int64_t off[MC], col[MC];  // x offset from the pixel base; iw = ow*sw + col
#pragma GCC unroll 8
  for (int i = 0; i < MC; ++i) {
    const int64_t j = t.j0 + i, s = j / Cg, c = j % Cg;
    col[i] = s * p.dil_w - p.pad_l;
    off[i] = col[i] * C + t.g * Cg + c;
  }
  // Interior pixels: every tile row inside the image (col is increasing in i).
  int64_t lo = col[0] >= 0 ? 0 : (-col[0] + sw - 1) / sw;
  int64_t hi = W - 1 - col[MC - 1];
  hi = hi < 0 ? 0 : std::min<int64_t>(p.Q, hi / sw + 1);
  lo = std::min(lo, hi);

  float* dwp = dw + (t.r * p.S * Cg + t.j0) * K + t.g * Kg + t.k0;
  vf acc[MC][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MC; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      acc[i][v] = (TAIL && v == NV - 1) ? vload_n(dwp + i * K + v * VL, t.kt)
                                        : vload(dwp + i * K + v * VL);
  for (int64_t oh = t.oh0; oh < t.oh1; ++oh) {
    const int64_t ih = oh * p.stride_h - p.pad_t + t.r * p.dil_h;
    if (ih < 0 || ih >= p.H) continue;
    const float* xrow = x + (t.n * p.H + ih) * W * C;
    const float* dyrow = dy + (t.n * p.P + oh) * p.Q * K + t.g * Kg + t.k0;
    const int64_t a = std::clamp(lo, t.ow0, t.ow1), b = std::clamp(hi, a, t.ow1);
    dw_pixels<MC, NV, TAIL, true>(acc, xrow, dyrow, off, col, t.ow0, a, sw * C, sw, W, K, t.kt);
    dw_pixels<MC, NV, TAIL, false>(acc, xrow, dyrow, off, col, a, b, sw * C, sw, W, K, t.kt);
    dw_pixels<MC, NV, TAIL, true>(acc, xrow, dyrow, off, col, b, t.ow1, sw * C, sw, W, K, t.kt);
  }
#pragma GCC unroll 8
  for (int i = 0; i < MC; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      vstore_n(dwp + i * K + v * VL, acc[i][v], (TAIL && v == NV - 1) ? t.kt : VL);
}

using DwFn = void (*)(const ConvParams&, const float*, const float*, float*, const DwTile&);
#define FC_DW_NV(MC, NV) {&dw_tile<MC, NV, false>, &dw_tile<MC, NV, true>}
#define FC_DW_MC(MC) {FC_DW_NV(MC, 1), FC_DW_NV(MC, 2), FC_DW_NV(MC, 3), FC_DW_NV(MC, 4)}
const DwFn kDw[kMCmax][4][2] = {FC_DW_MC(1), FC_DW_MC(2), FC_DW_MC(3), FC_DW_MC(4),
                                FC_DW_MC(5), FC_DW_MC(6), FC_DW_MC(7), FC_DW_MC(8)};
#undef FC_DW_MC
#undef FC_DW_NV

}  // namespace

void conv2d_bwd_weight_tiled(const ConvParams& p, const float* dy, const float* x, float* dw) {
  const int nt = threads_for(conv_macs(p));
  const int64_t Cg = p.Cg(), Kg = p.Kg(), K = p.K;
  const Blocks kb((Kg + VL - 1) / VL, kNVw);
  const int64_t nv_max = (kb.n + kb.count - 1) / kb.count;
  const Blocks mb(p.S * Cg, std::min<int64_t>(kMCmax, std::max<int64_t>(1, kAcc / nv_max)));
  const int64_t tasks = p.groups * p.R * mb.count * kb.count;
  // Pixels per register-accumulation block: about kPix (whole rows, or a row in pieces), so
  // the block's dy and x stay in L1/L2 while every tile of the thread walks it.
  constexpr int64_t kPix = 96;
  const int64_t rows = std::clamp<int64_t>(kPix / p.Q, 1, p.P);
  const Blocks cols(p.Q, rows == 1 ? kPix : p.Q);
#pragma omp parallel num_threads(nt)
  {
    const int64_t nthr = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t t0 = tasks * tid / nthr, t1 = tasks * (tid + 1) / nthr;
    auto decode = [&](int64_t task, DwTile& t, int& mc, int& nv) {
      // order (g, k block, r, m block): a thread's consecutive tiles share one dy slice (L1)
      const int64_t m = task % mb.count, rest = task / mb.count;
      const int64_t r = rest % p.R, gk = rest / p.R;
      const int64_t kbi = gk % kb.count;
      t.g = gk / kb.count, t.r = r;
      t.j0 = mb.start(m), mc = int(mb.size(m));
      t.k0 = kb.start(kbi) * VL, nv = int(kb.size(kbi));
      t.kt = int(std::min<int64_t>(VL, Kg - (t.k0 + (nv - 1) * VL)));
    };
    for (int64_t task = t0; task < t1; ++task) {  // zero the tiles this thread owns
      DwTile t;
      int mc, nv;
      decode(task, t, mc, nv);
      const int64_t k_end = std::min<int64_t>(Kg, t.k0 + nv * VL);
      for (int64_t i = 0; i < mc; ++i) {
        float* d = dw + (t.r * p.S * Cg + t.j0 + i) * K + t.g * Kg;
        for (int64_t k = t.k0; k < k_end; ++k) d[k] = 0.0f;
      }
    }
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t oh0 = 0; oh0 < p.P; oh0 += rows)
        for (int64_t cb = 0; cb < cols.count; ++cb)
          for (int64_t task = t0; task < t1; ++task) {
            DwTile t;
            int mc, nv;
            decode(task, t, mc, nv);
            t.n = n, t.oh0 = oh0, t.oh1 = std::min(p.P, oh0 + rows);
            t.ow0 = cols.start(cb), t.ow1 = cols.start(cb + 1);
            kDw[mc - 1][nv - 1][t.kt < VL](p, x, dy, dw, t);
          }
  }
}

void conv2d_bwd_weight_simple(const ConvParams& p, const float* dy, const float* x, float* dw) {
  const int nt = threads_for(conv_macs(p));
  const int64_t C = p.C, K = p.K, Cg = p.Cg(), Kg = p.Kg(), G = p.groups;
  const bool depthwise = Cg == 1 && Kg == 1;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t rs = 0; rs < p.R * p.S; ++rs) {
    const int64_t r = rs / p.S, s = rs % p.S;
    float* __restrict d = dw + rs * Cg * K;
    for (int64_t i = 0; i < Cg * K; ++i) d[i] = 0.0f;
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t oh = 0; oh < p.P; ++oh) {
        const int64_t ih = oh * p.stride_h - p.pad_t + r * p.dil_h;
        if (ih < 0 || ih >= p.H) continue;
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const int64_t iw = ow * p.stride_w - p.pad_l + s * p.dil_w;
          if (iw < 0 || iw >= p.W) continue;
          const float* __restrict xp = x + ((n * p.H + ih) * p.W + iw) * C;
          const float* __restrict dp = dy + ((n * p.P + oh) * p.Q + ow) * K;
          if (depthwise) {
            for (int64_t g = 0; g < G; ++g) d[g] += xp[g] * dp[g];
            continue;
          }
          for (int64_t g = 0; g < G; ++g)
            for (int64_t c = 0; c < Cg; ++c) {
              const float xv = xp[g * Cg + c];
              float* __restrict dr = d + c * K + g * Kg;
              for (int64_t k = 0; k < Kg; ++k) dr[k] += xv * dp[g * Kg + k];
            }
        }
      }
  }
}

void conv2d_bwd_bias(const ConvParams& p, const float* dy, float* db) {
  const int64_t K = p.K, pixels = p.N * p.P * p.Q;
  constexpr int64_t kChunk = 256;  // pixels per partial sum: fixed, not per thread
  const int64_t chunks = (pixels + kChunk - 1) / kChunk;
  float* part = workspace(41, size_t(chunks * K));
#pragma omp parallel for num_threads(threads_for(32.0 * pixels * K)) schedule(static)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    float* __restrict acc = part + ch * K;
    for (int64_t k = 0; k < K; ++k) acc[k] = 0.0f;
    const int64_t end = std::min(pixels, (ch + 1) * kChunk);
    for (int64_t px = ch * kChunk; px < end; ++px) {
      const float* __restrict d = dy + px * K;
      for (int64_t k = 0; k < K; ++k) acc[k] += d[k];
    }
  }
  for (int64_t k = 0; k < K; ++k) db[k] = 0.0f;
  for (int64_t ch = 0; ch < chunks; ++ch)
    for (int64_t k = 0; k < K; ++k) db[k] += part[ch * K + k];
}

}  // namespace FC_ISA_NS
}  // namespace fc
