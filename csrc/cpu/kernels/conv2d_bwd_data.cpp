// Convolution backward-data: dx[n,ih,iw,c] = sum over (r,s,k) of dy[n,oh,ow,k] * w[r,s,c,k]
// where ih = oh*sh - pt + r*dh and iw = ow*sw - pl + s*dw. Each dx pixel is computed whole
// by one task (cvec, kdot, simple: gathered; col2im: scatter-added inside a band of rows the
// task owns, in a fixed order), so no races and no thread-count dependence.
//
// Strided layers are decomposed by phase: the pixels of one dx row with the same iw mod sw
// share the set of taps s that reach them, and consecutive such pixels read consecutive dy
// pixels. A tile is a few pixels of one phase; taps that do not reach it are skipped, so no
// multiply by inserted zeros ever happens.
//
//   cvec:   tile of 6-14 pixels x NV vectors of channels, broadcast dy[k], FMA repacked
//           weights wt[g][r][s][k][c]  (C >= a vector's worth); dy rows repacked per thread
//           into [k / VL][column][VL] with zero columns, so a tap is one pointer
//   kdot:   tile of kMPk pixels x CC channels, vectors along K, one horizontal sum per
//           output at the end  (few channels; "auto" now prefers col2im, 2-3x faster)
//   col2im: per dy row, col = dy x w^T with vectors along (r, s, c), scatter-added into a band
//           of dx rows owned by the task  (few channels: 3-channel strided first layers)
//   simple: plain loops, any groups (vectorised over channels for depthwise)
#include <omp.h>

#include <algorithm>
#include <utility>

#include "conv2d_bwd_simd.h"
#include "cpu/conv2d_backward.h"
#include "cpu/memory.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {
namespace {

using namespace bwd;

constexpr int kNVc = kRegs == 32 ? 4 : 2;    // cvec: channel vectors per tile (max)
// cvec: pixels per tile for NV channel vectors: about 24 (AVX-512) or 12 accumulators.
constexpr int cvec_mp(int nv) {
  return kRegs == 32 ? (nv == 1 ? 14 : nv == 2 ? 12 : nv == 3 ? 8 : 6) : (nv == 1 ? 8 : 6);
}
constexpr int kMPk = kRegs == 32 ? 8 : 4;    // kdot: pixels per tile
constexpr int kCCk = 3;                      // kdot: channels per tile (max)

// The filter row r reaches dx row ih from dy row oh (returns false if it does not).
inline bool tap_row(const ConvParams& p, int64_t ih, int64_t r, int64_t& oh) {
  const int64_t t = ih + p.pad_t - r * p.dil_h;
  if (t < 0 || t % p.stride_h) return false;
  oh = t / p.stride_h;
  return oh < p.P;
}

// Filter column s reaches the dx pixels iw = f + t*sw of phase f from dy columns ob + t.
inline bool tap_col(const ConvParams& p, int64_t f, int64_t s, int64_t& ob) {
  const int64_t u = f + p.pad_l - s * p.dil_w;
  if (u % p.stride_w) return false;
  ob = u / p.stride_w;  // exact, possibly negative
  return true;
}

// One filter tap that reaches a (dx row, phase): dy pixel ob + t feeds the phase's pixel t.
struct Tap {
  int64_t rs;     // r * S + s
  int64_t dyrow;  // offset of dy[n, oh, 0, 0]
  int64_t ob;
};

// The taps that reach dx row (n, ih), phase f (count pixels); the divisions happen here,
// once per row and phase, not in the tiles.
int64_t phase_taps(const ConvParams& p, int64_t n, int64_t ih, int64_t f, int64_t count,
                   Tap* taps) {
  int64_t m = 0;
  for (int64_t r = 0; r < p.R; ++r) {
    int64_t oh;
    if (!tap_row(p, ih, r, oh)) continue;
    for (int64_t s = 0; s < p.S; ++s) {
      int64_t ob;
      if (!tap_col(p, f, s, ob) || ob >= p.Q || ob + count <= 0) continue;
      taps[m++] = {r * p.S + s, (n * p.P + oh) * p.Q * p.K, ob};
    }
  }
  return m;
}

Tap* tap_buffer(const ConvParams& p) {  // per thread (workspace is thread-local)
  return reinterpret_cast<Tap*>(workspace(43, size_t(p.R * p.S) * sizeof(Tap) / sizeof(float)));
}

// Rows of dy for the np pixels t0.. of one tap: pixels out of range read a zero row.
template <int MP>
inline void tap_rows(const Tap& tp, const float* dy, const float* zero, int64_t t0, int64_t np,
                     int64_t Q, int64_t K, int64_t koff, const float* (&dpi)[MP]) {
  const int64_t ow0 = tp.ob + t0;
#pragma GCC unroll 16
  for (int i = 0; i < MP; ++i)
    dpi[i] = (i < np && ow0 + i >= 0 && ow0 + i < Q) ? dy + tp.dyrow + (ow0 + i) * K + koff
                                                     : zero;
}

// ---------------------------------------------------------------------------------------- cvec

// VL x VL transpose in registers: log2(VL) butterfly stages, stage B swapping bit B of the
// row index with bit B of the lane index (two-source shuffles: vpermt2ps on AVX-512).
typedef int32_t vi __attribute__((vector_size(VL * sizeof(int32_t))));

template <int B, bool HI, int... L>
constexpr vi stage_mask(std::integer_sequence<int, L...>) {
  return vi{(HI ? ((L & B) == 0 ? L + B : VL + L) : ((L & B) == 0 ? L : VL + L - B))...};
}

template <int B>
inline void transpose_stage(vf (&r)[VL]) {
  constexpr vi lo = stage_mask<B, false>(std::make_integer_sequence<int, VL>{});
  constexpr vi hi = stage_mask<B, true>(std::make_integer_sequence<int, VL>{});
#pragma GCC unroll 16
  for (int i = 0; i < VL; ++i)
    if ((i & B) == 0) {
      const vf a = r[i], b = r[i + B];
      r[i] = __builtin_shuffle(a, b, lo);
      r[i + B] = __builtin_shuffle(a, b, hi);
    }
}

inline void transpose(vf (&r)[VL]) {
  transpose_stage<1>(r);
  transpose_stage<2>(r);
  if constexpr (VL > 4) transpose_stage<4>(r);
  if constexpr (VL > 8) transpose_stage<8>(r);
}

// dy rows repacked as [k block of VL][column][VL] (column = ow + padl, zero outside
// [0, Q)): a tile's pixels sit VL floats apart from one pointer per tap (constant offsets,
// no edge cases; 14 row pointers per tap spilled the GPRs), and a cache line feeds VL steps
// of k as in the NHWC row. A small per-thread ring of rows (slot oh mod nslots, tagged)
// repacks each dy row about once per channel block.
struct RowRing {
  float* data;      // nslots x [KB blocks][ld][VL]
  int64_t* tags;    // (g * N + n) * P + oh of the row in each slot, -1 if none
  int64_t nslots, ld, padl, nkb;

  const float* row(const ConvParams& p, const float* dy, int64_t g, int64_t n, int64_t oh) {
    const int64_t Kg = p.Kg(), slot = oh % nslots, tag = (g * p.N + n) * p.P + oh;
    float* t = data + slot * nkb * ld * VL;
    if (tags[slot] == tag) return t;
    tags[slot] = tag;
    const float* src = dy + (n * p.P + oh) * p.Q * p.K + g * Kg;
    for (int64_t kb = 0; kb < nkb; ++kb) {
      float* tb = t + kb * ld * VL;
      const int kn = int(std::min<int64_t>(VL, Kg - kb * VL));
      for (int64_t c = 0; c < padl; ++c) vstore(tb + c * VL, vf{});
      for (int64_t q = 0; q < p.Q; ++q)
        vstore(tb + (padl + q) * VL, vload_t(src + q * p.K + kb * VL, kn));
      for (int64_t c = padl + p.Q; c < ld; ++c) vstore(tb + c * VL, vf{});
    }
    return t;
  }
};

// One tap of a cvec tile: the transposed dy row at the tap's first column, and its weights.
struct RowTap {
  const float* d;   // T[0][ob + padl][0]: pixel t of the phase, step k reads
                    // d[(k / VL * ld + t) * VL + k % VL]
  const float* w;   // wt block + rs * Kg * NV * VL
};

// The taps that reach dx row (n, ih), phase f (count pixels), of group g.
int64_t row_taps(const ConvParams& p, RowRing& ring, const float* dy, const float* wt,
                 int64_t wstride, int64_t g, int64_t n, int64_t ih, int64_t f, int64_t count,
                 RowTap* taps) {
  int64_t m = 0;
  for (int64_t r = 0; r < p.R; ++r) {
    int64_t oh;
    if (!tap_row(p, ih, r, oh)) continue;
    const float* t = nullptr;
    for (int64_t s = 0; s < p.S; ++s) {
      int64_t ob;
      if (!tap_col(p, f, s, ob) || ob >= p.Q || ob + count <= 0) continue;
      if (!t) t = ring.row(p, dy, g, n, oh);
      taps[m++] = {t + (ob + ring.padl) * VL, wt + (r * p.S + s) * wstride};
    }
  }
  return m;
}

template <int NV, int kMP = cvec_mp(NV)>
void cvec_tile(const RowTap* taps, int64_t ntaps, int64_t Kg, int64_t ld, int64_t t0,
               float* __restrict dst, int64_t dstep, int64_t np, int ct) {
  vf acc[kMP][NV];
#pragma GCC unroll 16
  for (int i = 0; i < kMP; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = vf{};
  for (int64_t tp = 0; tp < ntaps; ++tp) {
    const float* __restrict wp = taps[tp].w;
    for (int64_t k0 = 0; k0 < Kg; k0 += VL) {
      const float* __restrict d = taps[tp].d + (k0 * ld + t0 * VL);
      const int64_t kn = std::min<int64_t>(VL, Kg - k0);
      for (int64_t kk = 0; kk < kn; ++kk, ++d, wp += NV * VL) {
        vf wv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) wv[v] = vload(wp + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < kMP; ++i) {
          vf b = vbcast(d[i * VL]);
          if (NV > 1) keep_in_register(b);  // one broadcast for NV FMAs; NV = 1 folds it
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) acc[i][v] += b * wv[v];
        }
      }
    }
  }
  for (int64_t i = 0; i < np; ++i, dst += dstep) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) vstore_n(dst + v * VL, acc[i][v], v == NV - 1 ? ct : VL);
  }
}

using CvecFn = void (*)(const RowTap*, int64_t, int64_t, int64_t, int64_t, float*, int64_t,
                        int64_t, int);
// Every tile width 1..cvec_mp(NV): a row is cut into tiles of near-equal width, so a 14-pixel
// row with 6-pixel tiles runs 5 + 5 + 4 pixels, not 6 + 6 + 2 (a tile costs its full width).
struct CvecRow {
  CvecFn f[16];
};
template <int NV, int... M>
constexpr CvecRow cvec_row(std::integer_sequence<int, M...>) {
  return {{&cvec_tile<NV, std::min(M + 1, cvec_mp(NV))>...}};
}
const CvecRow kCvec[4] = {cvec_row<1>(std::make_integer_sequence<int, 16>{}),
                          cvec_row<2>(std::make_integer_sequence<int, 16>{}),
                          cvec_row<3>(std::make_integer_sequence<int, 16>{}),
                          cvec_row<4>(std::make_integer_sequence<int, 16>{})};
const int64_t kCvecMP[4] = {cvec_mp(1), cvec_mp(2), cvec_mp(3), cvec_mp(4)};
static_assert(cvec_mp(1) <= 16, "kCvec rows hold 16 widths");

// ---------------------------------------------------------------------------------------- kdot

template <int CC, bool TAIL>
inline void kdot_step(vf (&acc)[kMPk][CC], const float* __restrict wp, int64_t K,
                      const float* (&dpi)[kMPk], int64_t koff, int kt) {
  vf wv[CC];
#pragma GCC unroll 4
  for (int c = 0; c < CC; ++c)
    wv[c] = TAIL ? vload_n(wp + c * K + koff, kt) : vload(wp + c * K + koff);
#pragma GCC unroll 16
  for (int i = 0; i < kMPk; ++i) {
    vf d = TAIL ? vload_n(dpi[i] + koff, kt) : vload(dpi[i] + koff);
    keep_in_register(d);  // one load per pixel, not one per channel
#pragma GCC unroll 4
    for (int c = 0; c < CC; ++c) acc[i][c] += d * wv[c];
  }
}

template <int CC, bool TAIL>
void kdot_tile(const ConvParams& p, const float* __restrict dy, const float* __restrict w,
               const float* __restrict zero, const Tap* taps, int64_t ntaps, float* __restrict dx,
               int64_t n, int64_t ih, int64_t f, int64_t t0, int64_t np, int64_t g, int64_t c0) {
  const int64_t K = p.K, Kg = p.Kg(), Cg = p.Cg(), kfull = Kg / VL * VL;
  vf acc[kMPk][CC];
#pragma GCC unroll 16
  for (int i = 0; i < kMPk; ++i)
#pragma GCC unroll 4
    for (int c = 0; c < CC; ++c) acc[i][c] = vf{};
  for (int64_t tp = 0; tp < ntaps; ++tp) {
    const float* dpi[kMPk];
    tap_rows<kMPk>(taps[tp], dy, zero, t0, np, p.Q, K, g * Kg, dpi);
    const float* wp = w + (taps[tp].rs * Cg + c0) * K + g * Kg;
    for (int64_t koff = 0; koff < kfull; koff += VL) kdot_step<CC, false>(acc, wp, K, dpi, koff, VL);
    if (TAIL) kdot_step<CC, true>(acc, wp, K, dpi, kfull, int(Kg - kfull));
  }
  for (int64_t i = 0; i < np; ++i) {
    float* dst = dx + ((n * p.H + ih) * p.W + f + (t0 + i) * p.stride_w) * p.C + g * Cg + c0;
#pragma GCC unroll 4
    for (int c = 0; c < CC; ++c) dst[c] = vsum(acc[i][c]);
  }
}

using KdotFn = void (*)(const ConvParams&, const float*, const float*, const float*, const Tap*,
                        int64_t, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                        int64_t);
const KdotFn kKdot[3][2] = {{&kdot_tile<1, false>, &kdot_tile<1, true>},
                            {&kdot_tile<2, false>, &kdot_tile<2, true>},
                            {&kdot_tile<3, false>, &kdot_tile<3, true>}};

// A row of K + VL zeros: what pixels outside dy read, so tiles need no edge branches.
const float* zero_row(const ConvParams& p) {
  float* z = workspace(42, size_t(p.K + VL));
  for (int64_t k = 0; k < p.K + VL; ++k) z[k] = 0.0f;
  return z;
}

}  // namespace

void conv2d_bwd_data_cvec(const ConvParams& p, const float* dy, const float* w, float* dx) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), G = p.groups, R = p.R, S = p.S;
  const int nt = threads_for(conv_macs(p));
  const int64_t Cgp = (Cg + VL - 1) / VL * VL;
  const Blocks cb(Cgp / VL, kNVc);
  // wt[g][block][r][s][k][c in block]: one contiguous stream per channel block, channels
  // zero-padded to whole vectors. Block b of group g starts at (g * Cgp + b0 * VL) * RSK.
  const int64_t RSK = R * S * Kg;
  float* wt = workspace(40, size_t(G * Cgp * RSK));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t grs = 0; grs < G * R * S; ++grs) {
    const int64_t g = grs / (R * S), rs = grs % (R * S);
    for (int64_t b = 0; b < cb.count; ++b) {
      const int64_t c0 = cb.start(b) * VL, width = cb.size(b) * VL;
      float* dst = wt + (g * Cgp + c0) * RSK + rs * Kg * width;
      for (int64_t k0 = 0; k0 < Kg; k0 += VL) {
        const int kn = int(std::min<int64_t>(VL, Kg - k0));
        for (int64_t cv = 0; cv < width; cv += VL) {
          vf r[VL];
#pragma GCC unroll 16
          for (int i = 0; i < VL; ++i) {
            const int64_t c = c0 + cv + i;
            r[i] = c < Cg ? vload_t(w + (rs * Cg + c) * p.K + g * Kg + k0, kn) : vf{};
          }
          transpose(r);
#pragma GCC unroll 16
          for (int j = 0; j < VL; ++j)
            if (j < kn) vstore(dst + (k0 + j) * width + cv, r[j]);
        }
      }
    }
  }
  const int64_t phases = std::min(p.stride_w, p.W), rows = p.N * p.H;
  // Columns of the transposed rows: every tap's first column ob (>= lo) up to its last
  // tile's end (< hi); rows of the ring: the dy rows one dx row reads span this many.
  int64_t lo = 0, hi = p.Q;
  for (int64_t f = 0; f < phases; ++f) {
    const int64_t count = (p.W - f + p.stride_w - 1) / p.stride_w;
    for (int64_t s = 0; s < S; ++s) {
      int64_t ob;
      if (!tap_col(p, f, s, ob) || ob >= p.Q || ob + count <= 0) continue;
      lo = std::min(lo, ob);
      hi = std::max(hi, ob + count + kCvecMP[0] - 1);
    }
  }
  const int64_t padl = -lo, ld = padl + hi, nkb = (Kg + VL - 1) / VL;
  const int64_t nslots = (R - 1) * p.dil_h / p.stride_h + 1;
  // Channel block outermost: a thread's run of tasks reuses one block of weights (L2).
#pragma omp parallel num_threads(nt)
  {
    RowTap* taps = reinterpret_cast<RowTap*>(
        workspace(48, size_t(R * S) * sizeof(RowTap) / sizeof(float)));
    RowRing ring{workspace(49, size_t(nslots * nkb * ld * VL)),
                 reinterpret_cast<int64_t*>(workspace(50, size_t(2 * nslots))), nslots, ld,
                 padl, nkb};
    for (int64_t i = 0; i < nslots; ++i) ring.tags[i] = -1;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < G * cb.count * rows; ++task) {
      const int64_t gb = task / rows, row = task % rows;
      const int64_t g = gb / cb.count, b = gb % cb.count, n = row / p.H, ih = row % p.H;
      const int64_t nv = cb.size(b), c0 = cb.start(b) * VL;
      const int ct = int(std::min<int64_t>(VL, Cg - (c0 + (nv - 1) * VL)));
      const float* wb = wt + (g * Cgp + c0) * RSK;
      for (int64_t f = 0; f < phases; ++f) {
        const int64_t count = (p.W - f + p.stride_w - 1) / p.stride_w;
        const int64_t ntaps = row_taps(p, ring, dy, wb, Kg * nv * VL, g, n, ih, f, count, taps);
        const Blocks tiles(count, kCvecMP[nv - 1]);
        float* drow = dx + ((n * p.H + ih) * p.W + f) * p.C + g * Cg + c0;
        const int64_t dstep = p.stride_w * p.C;
        for (int64_t t = 0; t < tiles.count; ++t) {
          const int64_t t0 = tiles.start(t), np = tiles.size(t);
          kCvec[nv - 1].f[np - 1](taps, ntaps, Kg, ld, t0, drow + t0 * dstep, dstep, np, ct);
        }
      }
    }
  }
}

void conv2d_bwd_data_kdot(const ConvParams& p, const float* dy, const float* w, float* dx) {
  const int nt = threads_for(conv_macs(p));
  const Blocks cb(p.Cg(), kCCk);
  const int64_t phases = std::min(p.stride_w, p.W), rows = p.N * p.H;
  const float* zero = zero_row(p);
#pragma omp parallel num_threads(nt)
  {
    Tap* taps = tap_buffer(p);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t n = row / p.H, ih = row % p.H;
      for (int64_t f = 0; f < phases; ++f) {
        const int64_t count = (p.W - f + p.stride_w - 1) / p.stride_w;
        const int64_t ntaps = phase_taps(p, n, ih, f, count, taps);
        for (int64_t g = 0; g < p.groups; ++g)
          for (int64_t b = 0; b < cb.count; ++b)
            for (int64_t t0 = 0; t0 < count; t0 += kMPk)
              kKdot[cb.size(b) - 1][p.Kg() % VL != 0](p, dy, w, zero, taps, ntaps, dx, n, ih, f, t0,
                                    std::min<int64_t>(kMPk, count - t0), g, cb.start(b));
      }
    }
  }
}

// ------------------------------------------------------------------------------------- col2im

namespace {

// col2im: col[q][j] = sum_k dy[n, oh, q, k] * wT[k][j] with j = (r * S + s) * Cg + c, a GEMM
// with vectors along j (the R*S*Cg filter outputs: 147 for 7x7x3, 363 for 11x11x3) instead
// of along C (3 lanes of 16 used), then a scatter-add of each col row into dx.
constexpr int kMPg = kRegs == 32 ? 6 : 4;   // pixels per GEMM tile
constexpr int kNVg = kRegs == 32 ? 4 : 2;   // j vectors per GEMM tile (max)

// col[i][v * VL ..] for MP pixels and NV vectors of j, reduced over k = 0..K-1 in order.
template <int NV, int MP>
void col_tile(const float* __restrict d, int64_t dstride, const float* __restrict wt,
              int64_t ldw, int64_t K, float* __restrict col, int64_t ldc) {
  const float* dp[MP];
#pragma GCC unroll 8
  for (int i = 0; i < MP; ++i) dp[i] = d + i * dstride;
  vf acc[MP][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MP; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = vf{};
  for (int64_t k = 0; k < K; ++k, wt += ldw) {
    vf wv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[v] = vload(wt + v * VL);
#pragma GCC unroll 8
    for (int i = 0; i < MP; ++i) {
      vf b = vbcast(dp[i][k]);
      if (NV > 1) keep_in_register(b);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += b * wv[v];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MP; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) vstore(col + i * ldc + v * VL, acc[i][v]);
}

// Every tile shape up to kMPg x kNVg: pixels and j vectors are cut into near-equal tiles
// (55 pixels run as 6 x 5 + 5 x 5, not 9 x 6 + a 6-wide tile for one pixel).
using ColFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*, int64_t);
struct ColRow {
  ColFn f[kMPg];
};
template <int NV, int... M>
constexpr ColRow col_row(std::integer_sequence<int, M...>) {
  return {{&col_tile<std::min(NV, kNVg), M + 1>...}};
}
const ColRow kColTile[4] = {col_row<1>(std::make_integer_sequence<int, kMPg>{}),
                            col_row<2>(std::make_integer_sequence<int, kMPg>{}),
                            col_row<3>(std::make_integer_sequence<int, kMPg>{}),
                            col_row<4>(std::make_integer_sequence<int, kMPg>{})};

// dst[0..n) += src[0..n)
inline void add_into(float* __restrict dst, const float* __restrict src, int64_t n) {
  int64_t i = 0;
  for (; i + VL <= n; i += VL) vstore(dst + i, vload(dst + i) + vload(src + i));
  if (i < n) {
    const int t = int(n - i);
    vstore_n(dst + i, vload_n(dst + i, t) + vload_n(src + i, t), t);
  }
}

}  // namespace

void conv2d_bwd_data_col2im(const ConvParams& p, const float* dy, const float* w, float* dx,
                            int64_t* claim) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), G = p.groups, R = p.R, S = p.S, SC = S * Cg;
  // claim: this thread is one of two sharing dx (conv2d_backward's side-by-side dx and dw),
  // so it runs serially here and takes bands from the shared counter; the bands are cut as
  // for 2 threads, the same in both callers.
  const int nt = claim ? 1 : threads_for(conv_macs(p));
  const int nt_bands = claim ? 2 : nt;
  // wT[g][k][j], j = (r * S + s) * Cg + c, rows padded with zeros past R*S*Cg so that a
  // tile's last vector may run past the end.
  const int64_t RSC = R * SC, ldw = (RSC + VL - 1) / VL * VL + kNVg * VL;
  float* wt = workspace(51, size_t(G * Kg * ldw));
  const int64_t nkb = (Kg + VL - 1) / VL, jpad = (RSC + VL - 1) / VL * VL;
#pragma omp parallel for num_threads(std::min<int64_t>(nt, G * nkb)) schedule(static)
  for (int64_t gkb = 0; gkb < G * nkb; ++gkb) {  // VL x VL transposes of w[j][k]
    const int64_t g = gkb / nkb, k0 = gkb % nkb * VL;
    const int kn = int(std::min<int64_t>(VL, Kg - k0));
    float* dst = wt + (g * Kg + k0) * ldw;
    for (int64_t j0 = 0; j0 < RSC; j0 += VL) {
      vf r[VL];
#pragma GCC unroll 16
      for (int i = 0; i < VL; ++i)
        r[i] = j0 + i < RSC ? vload_t(w + (j0 + i) * p.K + g * Kg + k0, kn) : vf{};
      transpose(r);
#pragma GCC unroll 16
      for (int k = 0; k < VL; ++k)
        if (k < kn) vstore(dst + k * ldw + j0, r[k]);
    }
    for (int64_t k = 0; k < kn; ++k)
      for (int64_t j = jpad; j < ldw; ++j) dst[k * ldw + j] = 0.0f;
  }
  // Tasks own bands of kBand dx rows of one image; every dy row reaching a band adds the
  // taps r that land in it, dy rows and pixels in ascending order, so each dx element sums
  // the same terms in the same order whatever the banding or thread count.
  // Up to 16 rows a band (fewer rows split fewer filters across bands: +5 % on the first
  // layers vs 8), fewer at batch 1 so that 2-3 threads find ~16 tasks to share.
  // Bands of near-equal height, as many as give each thread an equal share (at batch 1
  // AlexNet conv1's 227 rows made 17 bands: one thread ran 9, the other 8).
  const int64_t kBand = std::clamp<int64_t>(p.N * p.H / 16, 1, 16);
  int64_t nband = (p.H + kBand - 1) / kBand;
  for (int64_t e = 0; e < nt_bands; ++e)
    if ((p.N * (nband + e)) % nt_bands == 0 && nband + e <= p.H) {
      nband += e;
      break;
    }
  const bool contig = G == 1 && p.dil_w == 1;  // a filter row's (s, c) are contiguous in dx
  const int64_t rowstep = p.dil_h * p.W * p.C;  // dx floats between filter rows r and r + 1
  const Blocks qtiles(p.Q, kMPg);
  // Scatter order: pixels qstep apart have disjoint windows, so q, q + qstep, ... then
  // q + 1, ... never reload a vector the previous add has just stored over part of (a
  // store-forwarding stall per add when q and q + 1 overlap: most of the scatter's time).
  const int64_t qstep = std::max<int64_t>(1, ((S - 1) * p.dil_w + 1 + p.stride_w - 1) / p.stride_w);
#pragma omp parallel num_threads(nt)
  {
    float* col = workspace(52, size_t(p.Q * (ldw + kNVg * VL)));
    // Tile bounds, computed once (Blocks::start divides: 3 divisions a tile call cost 3 %).
    int64_t* qb = reinterpret_cast<int64_t*>(workspace(53, size_t(2 * (qtiles.count + 1))));
    for (int64_t t = 0; t <= qtiles.count; ++t) qb[t] = qtiles.start(t);
    // One task: the dx rows [ih0, ih1) of image n, zeroed then summed into.
    auto band = [&](int64_t task) {
      const int64_t n = task / nband, ih0 = task % nband * p.H / nband;
      const int64_t ih1 = (task % nband + 1) * p.H / nband;
      float* xb = dx + (n * p.H + ih0) * p.W * p.C;
      for (int64_t i = 0; i < (ih1 - ih0) * p.W * p.C; ++i) xb[i] = 0.0f;
      // dy rows oh with some r: ih0 <= oh * sh - pt + r * dh < ih1
      const int64_t num = ih0 + p.pad_t - (R - 1) * p.dil_h;
      const int64_t oh0 = std::max<int64_t>(0, num > 0 ? (num + p.stride_h - 1) / p.stride_h : 0);
      const int64_t oh1 = std::min(p.P, (ih1 - 1 + p.pad_t) / p.stride_h + 1);
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        const int64_t base = oh * p.stride_h - p.pad_t;  // ih of r = 0
        int64_t r0 = 0, r1 = R;
        while (r0 < R && base + r0 * p.dil_h < ih0) ++r0;
        while (r1 > r0 && base + (r1 - 1) * p.dil_h >= ih1) --r1;
        if (r0 >= r1) continue;
        const int64_t j0 = r0 * SC, nj = (r1 - r0) * SC, nvj = (nj + VL - 1) / VL;
        const int64_t ldc = nvj * VL;
        for (int64_t g = 0; g < G; ++g) {
          const float* drow = dy + (n * p.P + oh) * p.Q * p.K + g * Kg;
          const float* wg = wt + g * Kg * ldw + j0;
          const Blocks vch(nvj, kNVg);
          for (int64_t b = 0; b < vch.count; ++b) {
            const int64_t v0 = vch.start(b), nv = vch.size(b);
            for (int64_t t = 0; t < qtiles.count; ++t) {
              const int64_t q0 = qb[t];
              kColTile[nv - 1].f[qb[t + 1] - q0 - 1](drow + q0 * p.K, p.K, wg + v0 * VL, ldw,
                                                     Kg, col + q0 * ldc + v0 * VL, ldc);
            }
          }
          float* dbase = dx + (n * p.H + base + r0 * p.dil_h) * p.W * p.C;
          for (int64_t ph = 0; ph < qstep; ++ph)
          for (int64_t q = ph; q < p.Q; q += qstep) {
            const int64_t iw0 = q * p.stride_w - p.pad_l;
            // A window inside the image: one run per filter row, no edge clipping (the bounds
            // and address arithmetic below cost ~10 % of dx on ResNet-50 conv1).
            if (contig && iw0 >= 0 && iw0 + S <= p.W) {
              const float* src = col + q * ldc;
              float* dst = dbase + iw0 * p.C;
              for (int64_t r = r0; r < r1; ++r, src += SC, dst += rowstep) add_into(dst, src, SC);
              continue;
            }
            int64_t s0 = 0, s1 = S;
            while (s0 < S && iw0 + s0 * p.dil_w < 0) ++s0;
            while (s1 > s0 && iw0 + (s1 - 1) * p.dil_w >= p.W) --s1;
            if (s0 >= s1) continue;
            for (int64_t r = r0; r < r1; ++r) {
              const float* src = col + q * ldc + (r - r0) * SC;
              float* dst = dx + ((n * p.H + base + r * p.dil_h) * p.W) * p.C + g * Cg;
              if (contig) {
                add_into(dst + (iw0 + s0) * p.C, src + s0 * Cg, (s1 - s0) * Cg);
                continue;
              }
              for (int64_t s = s0; s < s1; ++s)
                add_into(dst + (iw0 + s * p.dil_w) * p.C, src + s * Cg, Cg);
            }
          }
        }
      }
    };
    if (claim) {
      for (int64_t task; (task = __atomic_fetch_add(claim, 1, __ATOMIC_RELAXED)) < p.N * nband;)
        band(task);
    } else {
#pragma omp for schedule(static)
      for (int64_t task = 0; task < p.N * nband; ++task) band(task);
    }
  }
}

void conv2d_bwd_data_simple(const ConvParams& p, const float* dy, const float* w, float* dx) {
  const int nt = threads_for(conv_macs(p));
  const int64_t C = p.C, K = p.K, Cg = p.Cg(), Kg = p.Kg(), G = p.groups;
  const bool depthwise = Cg == 1 && Kg == 1;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t row = 0; row < p.N * p.H; ++row) {
    const int64_t n = row / p.H, ih = row % p.H;
    for (int64_t iw = 0; iw < p.W; ++iw) {
      float* __restrict d = dx + ((n * p.H + ih) * p.W + iw) * C;
      for (int64_t c = 0; c < C; ++c) d[c] = 0.0f;
      for (int64_t r = 0; r < p.R; ++r) {
        int64_t oh;
        if (!tap_row(p, ih, r, oh)) continue;
        for (int64_t s = 0; s < p.S; ++s) {
          int64_t ow;
          if (!tap_col(p, iw, s, ow) || ow < 0 || ow >= p.Q) continue;
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
