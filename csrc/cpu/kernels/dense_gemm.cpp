// Fully connected layer kernels (see cpu/dense.h): register tiles with broadcast-FMAs.
//
// forward  y = x @ w + b: tile of MR rows x NV vectors along K, reduced over C in blocks of
//   kCB rows of w; when several row tiles share a block, its K slice is packed contiguously
//   first (w's rows are K floats apart, 16 KB on 4096-wide layers: unpacked, a block's slice
//   falls into a handful of cache sets).
// backward weight  dw = x.T @ dy: tile of MR rows of dw x NV vectors, reduced over N.
// backward data  dx = dy @ w.T: MN rows of dy x MC rows of w, dot products along K
//   (vector partial sums, then a fixed-tree horizontal sum), so w is read in its own layout.
// Threads split output tiles only; every element is one sum in a fixed order.
#include <omp.h>

#include <algorithm>

#include "conv2d_bwd_simd.h"
#include "cpu/dense.h"
#include "cpu/memory.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {
namespace {

using namespace bwd;

constexpr int kNV = kRegs == 32 ? 4 : 2;  // K vectors per forward / dw tile
constexpr int kMR = kRegs == 32 ? 6 : 4;  // rows per forward / dw tile
constexpr int64_t kCB = 256;              // rows of w per forward block
constexpr int kDN = kRegs == 32 ? 4 : 3;  // dx tile: rows of dy
constexpr int kDC = kRegs == 32 ? 4 : 3;  // dx tile: rows of w

// Threads for a call of `macs` multiply-adds. A dense layer is a short GEMM: LeNet-5's
// 400 -> 120 at batch 32 (1.5 M) takes 40-60 us on one thread, and two threads lost there
// (59 -> 123 us forward, 150 -> 325 us backward, best of 200 with the host loaded: the second
// core's worker sleeps between ops, and on a shared host waits for that core). From 4 M
// (ResNet-50's classifier at batch 16: 33 M) the split pays. Results never depend on it.
inline int dense_threads(double macs) { return macs < 4e6 ? 1 : num_threads(); }

inline vf load_k(const float* p, int v, int nv, int kt) {
  return v == nv - 1 ? vload_t(p + v * VL, kt) : vload(p + v * VL);
}

// acc[i][v] (+)= sum over c < cl of x[i * ldx + c] * w[c * ldw + v*VL ..]; the first block
// starts from the bias (or zero), later ones from y; the last applies the ReLU.
template <int MR, int NV>
void fwd_tile(const float* __restrict x, int64_t ldx, const float* __restrict w, int64_t ldw,
              int64_t cl, const float* b, bool first, bool last, bool relu,
              float* __restrict y, int64_t ldy, int kt) {
  vf acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      acc[i][v] = !first ? load_k(y + i * ldy, v, NV, kt) : b ? load_k(b, v, NV, kt) : vf{};
  for (int64_t c = 0; c < cl; ++c) {
    vf d[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) d[v] = load_k(w + c * ldw, v, NV, kt);
    bcast_fma(acc, x + c, ldx, d);
  }
  const vf zero = {};
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      vf r = acc[i][v];
      if (last && relu) r = r > zero ? r : zero;
      vstore_n(y + i * ldy + v * VL, r, v == NV - 1 ? kt : VL);
    }
}

// dw[i][v] = sum over n of x[n * ldx + i] * dy[n * ldd + v*VL ..].
template <int MR, int NV>
void dw_tile(const float* __restrict x, int64_t ldx, const float* __restrict dy, int64_t ldd,
             int64_t N, float* __restrict dw, int64_t ldw, int kt) {
  vf acc[MR][NV] = {};
  for (int64_t n = 0; n < N; ++n) {
    vf d[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) d[v] = load_k(dy + n * ldd, v, NV, kt);
    bcast_fma(acc, x + n * ldx, 1, d);
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) vstore_n(dw + i * ldw + v * VL, acc[i][v], v == NV - 1 ? kt : VL);
}

// dx[i][j] = dot(dy[i, :K], w[j, :K]) for MN rows of dy and MC rows of w.
template <int MN, int MC>
void dx_tile(const float* __restrict dy, const float* __restrict w, int64_t K,
             float* __restrict dx, int64_t ldx) {
  vf acc[MN][MC] = {};
  int64_t k = 0;
  for (; k + VL <= K; k += VL) {
    vf a[MN], b[MC];
#pragma GCC unroll 4
    for (int i = 0; i < MN; ++i) a[i] = vload(dy + i * K + k);
#pragma GCC unroll 4
    for (int j = 0; j < MC; ++j) b[j] = vload(w + j * K + k);
#pragma GCC unroll 4
    for (int i = 0; i < MN; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < MC; ++j) acc[i][j] += a[i] * b[j];
  }
  if (k < K) {
    const int t = int(K - k);
#pragma GCC unroll 4
    for (int i = 0; i < MN; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < MC; ++j) acc[i][j] += vload_n(dy + i * K + k, t) * vload_n(w + j * K + k, t);
  }
#pragma GCC unroll 4
  for (int i = 0; i < MN; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < MC; ++j) dx[i * ldx + j] = vsum(acc[i][j]);
}

using FwdFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, const float*, bool,
                       bool, bool, float*, int64_t, int);
using DwFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*, int64_t, int);
using DxFn = void (*)(const float*, const float*, int64_t, float*, int64_t);

template <int MR>
struct Row {
  static constexpr FwdFn fwd[4] = {&fwd_tile<MR, 1>, &fwd_tile<MR, 2>, &fwd_tile<MR, 3>,
                                   &fwd_tile<MR, 4>};
  static constexpr DwFn dw[4] = {&dw_tile<MR, 1>, &dw_tile<MR, 2>, &dw_tile<MR, 3>,
                                 &dw_tile<MR, 4>};
};
const FwdFn kFwd[6][4] = {{Row<1>::fwd[0], Row<1>::fwd[1], Row<1>::fwd[2], Row<1>::fwd[3]},
                          {Row<2>::fwd[0], Row<2>::fwd[1], Row<2>::fwd[2], Row<2>::fwd[3]},
                          {Row<3>::fwd[0], Row<3>::fwd[1], Row<3>::fwd[2], Row<3>::fwd[3]},
                          {Row<4>::fwd[0], Row<4>::fwd[1], Row<4>::fwd[2], Row<4>::fwd[3]},
                          {Row<5>::fwd[0], Row<5>::fwd[1], Row<5>::fwd[2], Row<5>::fwd[3]},
                          {Row<6>::fwd[0], Row<6>::fwd[1], Row<6>::fwd[2], Row<6>::fwd[3]}};
const DwFn kDw[6][4] = {{Row<1>::dw[0], Row<1>::dw[1], Row<1>::dw[2], Row<1>::dw[3]},
                        {Row<2>::dw[0], Row<2>::dw[1], Row<2>::dw[2], Row<2>::dw[3]},
                        {Row<3>::dw[0], Row<3>::dw[1], Row<3>::dw[2], Row<3>::dw[3]},
                        {Row<4>::dw[0], Row<4>::dw[1], Row<4>::dw[2], Row<4>::dw[3]},
                        {Row<5>::dw[0], Row<5>::dw[1], Row<5>::dw[2], Row<5>::dw[3]},
                        {Row<6>::dw[0], Row<6>::dw[1], Row<6>::dw[2], Row<6>::dw[3]}};
template <int MN>
struct DxRow {
  static constexpr DxFn f[4] = {&dx_tile<MN, 1>, &dx_tile<MN, 2>, &dx_tile<MN, 3>,
                                &dx_tile<MN, 4>};
};
const DxFn kDx[4][4] = {{DxRow<1>::f[0], DxRow<1>::f[1], DxRow<1>::f[2], DxRow<1>::f[3]},
                        {DxRow<2>::f[0], DxRow<2>::f[1], DxRow<2>::f[2], DxRow<2>::f[3]},
                        {DxRow<3>::f[0], DxRow<3>::f[1], DxRow<3>::f[2], DxRow<3>::f[3]},
                        {DxRow<4>::f[0], DxRow<4>::f[1], DxRow<4>::f[2], DxRow<4>::f[3]}};

struct KBlock {  // a block of up to kNV vectors along K
  int64_t k0;
  int nv, kt;
  KBlock(int64_t K, int64_t kb) : k0(kb * kNV * VL) {
    const int64_t kw = std::min<int64_t>(kNV * VL, K - k0);
    nv = int((kw + VL - 1) / VL);
    kt = int(kw - (nv - 1) * VL);
  }
};

}  // namespace

void dense_fwd(int64_t N, int64_t C, int64_t K, const float* x, const float* w, const float* b,
               bool relu, float* y) {
  constexpr int64_t KB = kNV * VL;
  const int64_t nkb = (K + KB - 1) / KB;
  const bool pack = N > kMR;  // several row tiles reuse each block of w
  const int nt = dense_threads(double(N) * C * K);
#pragma omp parallel num_threads(nt)
  {
    // This thread's K blocks; each y element is still one sum over C in row order.
    const int64_t nthr = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t kb0 = nkb * tid / nthr, kb1 = nkb * (tid + 1) / nthr, nb = kb1 - kb0;
    // Rows of w per block: the block's slices of this thread's K range are read row by row
    // (sequential streams, not one 256-byte piece per row per K block) and, with several row
    // tiles, packed per K block (about 128 KB in all, reused from L2).
    const int64_t cb = pack ? std::clamp<int64_t>(32768 / std::max<int64_t>(1, nb * KB), 16, kCB)
                            : 32;
    float* P = pack && nb > 0 ? workspace(46, size_t(cb * nb * KB)) : nullptr;
    for (int64_t c0 = 0; c0 < C && nb > 0; c0 += cb) {
      const int64_t cl = std::min(cb, C - c0);
      if (pack)
        for (int64_t c = 0; c < cl; ++c)
          for (int64_t kb = kb0; kb < kb1; ++kb) {
            const KBlock blk(K, kb);
            float* dst = P + ((kb - kb0) * cb + c) * KB;
            for (int v = 0; v < blk.nv; ++v)
              vstore(dst + v * VL, load_k(w + (c0 + c) * K + blk.k0, v, blk.nv, blk.kt));
          }
      for (int64_t kb = kb0; kb < kb1; ++kb) {
        const KBlock blk(K, kb);
        const float* wp = pack ? P + (kb - kb0) * cb * KB : w + c0 * K + blk.k0;
        const int64_t ldw = pack ? KB : K;
        for (int64_t n0 = 0; n0 < N; n0 += kMR) {
          const int mr = int(std::min<int64_t>(kMR, N - n0));
          kFwd[mr - 1][blk.nv - 1](x + n0 * C + c0, C, wp, ldw, cl, b ? b + blk.k0 : nullptr,
                                   c0 == 0, c0 + cl == C, relu, y + n0 * K + blk.k0, K, blk.kt);
        }
      }
    }
  }
}

void dense_bwd_weight(int64_t N, int64_t C, int64_t K, const float* dy, const float* x,
                      float* dw) {
  constexpr int64_t KB = kNV * VL;
  const int64_t nkb = (K + KB - 1) / KB, nct = (C + kMR - 1) / kMR;
#pragma omp parallel for num_threads(dense_threads(double(N) * C * K)) schedule(static)
  for (int64_t task = 0; task < nct * nkb; ++task) {
    const int64_t ct = task / nkb;
    const KBlock blk(K, task % nkb);
    const int64_t c0 = ct * kMR;
    const int mr = int(std::min<int64_t>(kMR, C - c0));
    kDw[mr - 1][blk.nv - 1](x + c0, C, dy + blk.k0, K, N, dw + c0 * K + blk.k0, K, blk.kt);
  }
}

void dense_bwd_data(int64_t N, int64_t C, int64_t K, const float* dy, const float* w,
                    float* dx) {
  const int64_t nct = (C + kDC - 1) / kDC;
#pragma omp parallel for num_threads(dense_threads(double(N) * C * K)) schedule(static)
  for (int64_t ct = 0; ct < nct; ++ct) {
    const int64_t c0 = ct * kDC;
    const int mc = int(std::min<int64_t>(kDC, C - c0));
    for (int64_t n0 = 0; n0 < N; n0 += kDN) {
      const int mn = int(std::min<int64_t>(kDN, N - n0));
      kDx[mn - 1][mc - 1](dy + n0 * K, w + c0 * K, K, dx + n0 * C + c0, C);
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
