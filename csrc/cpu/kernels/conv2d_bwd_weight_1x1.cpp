// Convolution backward-weight of unpadded ungrouped 1x1 layers (any stride):
// dw[c][k] = sum over output pixels m of x[pixel m][c] * dy[m][k], one C x K GEMM.
//
// The per-filter-row tiles (conv2d_bwd_weight_tiled) pack whole x and dy rows per block of
// 64 pixels and run every dw tile of the thread on it, so each block reloads and stores the
// thread's whole dw: on ResNet-50's 1x1 layers (dw of 1-8 MB, more than L2) that streams dw
// through memory once per 64 pixels. Here, when dw is over 128 K floats, it is cut into panels
// of at most 192 x 256 floats that each walk all the pixels, with only the panel's x and dy
// columns packed per block (x is then read K / 256 times, dy C / 192 times), and the panel's
// partial sums kept in a padded buffer (in dw, rows 4-8 KB apart fell into a few L2 sets).
// Batch 16, 1 thread, alternating with the tiles in one process (min of 20): 1024->2048 s2 at
// 14x14 73 -> 83 GFLOP/s, 512->2048 at 7x7 75 -> 85, 2048->512 87 -> 90; the layers whose dw
// fits L2 (one panel: the tiles' traffic) tied.
//
// Each dw element is one sum over the pixels in order (a register chain from zero, stored
// and reloaded between blocks), the same sum as the tiles', so dw does not depend on the
// thread count or the tiling (nor differ from the tiles'); threads own contiguous ranges of
// tiles.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "conv2d_bwd_simd.h"
#include "cpu/conv2d_backward.h"
#include "cpu/memory.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {
namespace {

using namespace bwd;

constexpr int kMC = 12;                      // rows (input channels) per tile (max)
constexpr int64_t kPanelC = 192, kPanelK = 256;  // dw panel (floats)
constexpr int64_t kWholeDw = 128 * 1024;         // floats
// Pixels per block: a tile's dy slice (64 pixels x 4 vectors, 16 KiB) stays in L1.
constexpr int64_t kPix = 64;

struct TileArgs {
  const float* xp;  // packed x at the tile's first row (column)
  int64_t ldx;
  const float* dp;  // packed dy at the tile's first K column
  int64_t ldd;
  int64_t np;
  const float* acc;  // the partial sums so far (unless zero), rows lda apart
  int64_t lda;
  float* out;  // where the sums go, rows ldo apart
  int64_t ldo;
  int kt;     // valid lanes of the last vector
  bool zero;  // first block: start from zero, not from dw
};

template <int MC, int NV, bool TAIL>
void tile(const TileArgs& a) {
  const int64_t np = a.np, ldx = a.ldx, ldd = a.ldd, lda = a.lda, ldo = a.ldo;
  const int kt = a.kt;
  vf acc[MC][NV];
  if (a.zero) {
#pragma GCC unroll 12
    for (int i = 0; i < MC; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = vf{};
  } else {
#pragma GCC unroll 12
    for (int i = 0; i < MC; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = (TAIL && v == NV - 1) ? vload_n(a.acc + i * lda + v * VL, kt)
                                          : vload(a.acc + i * lda + v * VL);
  }
  const float* xq = a.xp;
  const float* dq = a.dp;
  int64_t q = 0;
  do {  // np >= 1; a do-while keeps GCC from staging the accumulators through the stack
    vf d[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) d[v] = vload(dq + v * VL);
    bcast_fma(acc, xq, 1, d);
    xq += ldx, dq += ldd;
  } while (++q < np);
#pragma GCC unroll 12
  for (int i = 0; i < MC; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      vstore_n(a.out + i * ldo + v * VL, acc[i][v], (TAIL && v == NV - 1) ? kt : VL);
}

using TileFn = void (*)(const TileArgs&);

template <int MC, int NV, bool T>
TileFn fn_or_null() {
  if constexpr (MC * NV <= kTileAcc) return &tile<MC, NV, T>;
  else return nullptr;
}
template <int NV, bool T>
TileFn pick_mc(int mc) {
  switch (mc) {
    case 1: return fn_or_null<1, NV, T>();
    case 2: return fn_or_null<2, NV, T>();
    case 3: return fn_or_null<3, NV, T>();
    case 4: return fn_or_null<4, NV, T>();
    case 5: return fn_or_null<5, NV, T>();
    case 6: return fn_or_null<6, NV, T>();
    case 7: return fn_or_null<7, NV, T>();
    case 8: return fn_or_null<8, NV, T>();
    case 9: return fn_or_null<9, NV, T>();
    case 10: return fn_or_null<10, NV, T>();
    case 11: return fn_or_null<11, NV, T>();
    default: return fn_or_null<12, NV, T>();
  }
}
template <bool T>
TileFn pick_nv(int mc, int nv) {
  if constexpr (kTileNV == 4) {
    if (nv == 3) return pick_mc<3, T>(mc);
    if (nv == 4) return pick_mc<4, T>(mc);
  }
  return nv == 1 ? pick_mc<1, T>(mc) : pick_mc<2, T>(mc);
}

// Row stride of a packed panel of n floats per row: whole vectors, and one more line when
// the stride is a multiple of 4 lines (tiles read a slice of each row; a power-of-two stride
// would put a block's slice into a few cache sets).
inline int64_t panel_ld(int64_t n) {
  const int64_t ld = (n + 15) / 16 * 16;
  return (ld / 16) % 4 == 0 ? ld + 16 : ld;
}

inline void copy_run(float* __restrict dst, const float* __restrict src, int64_t n) {
  int64_t k = 0;
  for (; k + VL <= n; k += VL) {
    vf v = vload(src + k);
    keep_in_register(v);  // no memcpy call per short run
    vstore(dst + k, v);
  }
  if (k < n) vstore(dst + k, vload_n(src + k, int(n - k)));  // zeros past n (whole vector)
}

// The input pixels of output pixels q, q+1, ... (1x1, no padding): a division per output
// row, not per pixel.
struct PixelWalk {
  const ConvParams* p = nullptr;
  const float* x = nullptr;
  int64_t ow = 0, row = 0;     // column, and output row n * P + oh
  const float* px = nullptr;  // x at the current pixel
  PixelWalk() = default;
  PixelWalk(const ConvParams& p_, const float* x_, int64_t q) : p(&p_), x(x_) {
    ow = q % p->Q, row = q / p->Q;
    set();
  }
  void set() {
    const int64_t n = row / p->P, oh = row % p->P;
    px = x + ((n * p->H + oh * p->stride_h) * p->W + ow * p->stride_w) * p->C;
  }
  void next() {
    if (++ow < p->Q) px += p->stride_w * p->C;
    else ow = 0, ++row, set();
  }
};

// Walks the x and dy columns of a panel for the next block of pixels, a few cache lines per
// call, prefetching them into L2 while the tiles run (the packs then read L2, not memory).
struct Prefetcher {
  const float* dy = nullptr;
  PixelWalk xw;
  int64_t q = 0, q1 = 0, c0 = 0, k0 = 0, K = 0, xn = 0, dn = 0, line = 0, per_call = 0;
  void start(const ConvParams& p, const float* x, const float* dy_, int64_t q0, int64_t np,
             int64_t c0_, int64_t c1, int64_t k0_, int64_t k1, int64_t calls) {
    dy = dy_, xw = PixelWalk(p, x, q0), q = q0, q1 = q0 + np, c0 = c0_, k0 = k0_, K = p.K;
    line = 0;
    xn = (c1 - c0 + 15) / 16 + 1, dn = (k1 - k0 + 15) / 16 + 1;  // lines per pixel (+1: offset)
    per_call = np * (xn + dn) / std::max<int64_t>(calls, 1) + 1;
  }
  void step() {
    for (int64_t l = 0; l < per_call && q < q1; ++l) {
      const char* a = line < xn ? reinterpret_cast<const char*>(xw.px + c0) + 64 * line
                                : reinterpret_cast<const char*>(dy + q * K + k0) + 64 * (line - xn);
      __builtin_prefetch(a, 0, 2);
      if (++line == xn + dn) line = 0, ++q, xw.next();
    }
  }
};

// A tile of the thread, decoded once per panel.
struct Job {
  int64_t xo, dof, ao;  // offsets into the packed X and D and the panel's sums
  float* dwp;
  TileFn fn;
  int kt;
};

}  // namespace

void conv2d_bwd_weight_1x1(const ConvParams& p, const float* dy, const float* x, float* dw) {
  const int nt = threads_for(conv_macs(p));
  const int64_t C = p.C, K = p.K, M = p.N * p.P * p.Q;
  const Blocks kb((K + VL - 1) / VL, kTileNV);  // K tiles (vectors)
  const int64_t nv_max = (kb.n + kb.count - 1) / kb.count;
  const Blocks mb(C, std::min<int64_t>(kMC, std::max<int64_t>(1, kTileAcc / nv_max)));
  // Panels: groups of whole tiles, at most kPanelC x kPanelK floats.
  // One panel when dw fits L2 (then x and dy are read once, as by the tiles).
  const bool whole = C * K <= kWholeDw;
  const int64_t mt_per =
      whole ? mb.count : std::max<int64_t>(1, kPanelC / ((C + mb.count - 1) / mb.count));
  const int64_t kt_per = whole ? kb.count : std::max<int64_t>(1, kPanelK / (nv_max * VL));
  const Blocks pm(mb.count, mt_per), pk(kb.count, kt_per);
  const int64_t npanel = pm.count * pk.count;
  // Tiles in (panel, K tile, C tile) order; each thread takes a contiguous range.
  const int64_t tiles = mb.count * kb.count;
  const Blocks pb(M, kPix);
#pragma omp parallel num_threads(nt)
  {
    const int64_t nthr = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t t0 = tiles * tid / nthr, t1 = tiles * (tid + 1) / nthr;
    int64_t t = 0;  // first tile of the current panel
    for (int64_t pi = 0; pi < npanel && t < t1; ++pi) {
      const int64_t im = pi / pk.count, ik = pi % pk.count;
      const int64_t m0 = pm.start(im), m1 = pm.start(im + 1);
      const int64_t kk0 = pk.start(ik), kk1 = pk.start(ik + 1);
      const int64_t pt0 = t, pt1 = t + (m1 - m0) * (kk1 - kk0);
      t = pt1;
      const int64_t a = std::max(pt0, t0), b = std::min(pt1, t1);
      if (a >= b) continue;
      // The columns of the panel's tiles this thread owns (K tile outer, C tile inner): with
      // one panel, each of two threads packs half of dy's columns, not all.
      const int64_t nm = m1 - m0, ka = kk0 + (a - pt0) / nm, kz = kk0 + (b - 1 - pt0) / nm;
      const int64_t ma = ka == kz ? m0 + (a - pt0) % nm : m0;
      const int64_t mz = ka == kz ? m0 + (b - 1 - pt0) % nm : m1 - 1;
      const int64_t c0 = mb.start(ma), c1 = mb.start(mz + 1);
      const int64_t k0 = kb.start(ka) * VL, k1 = std::min(K, kb.start(kz + 1) * VL);
      const int64_t ldx = panel_ld(c1 - c0), ldd = panel_ld(k1 - k0);
      float* X = workspace(44, size_t(kPix * ldx));
      float* D = workspace(45, size_t(kPix * ldd));
      // The panel's partial sums between blocks, in a padded buffer: in dw itself, rows of 1-2
      // K floats (4-8 KB) apart fell into a few L2 sets.
      const int64_t lds = panel_ld(k1 - k0);
      float* S = workspace(46, size_t((c1 - c0) * lds));
      Job* jobs = reinterpret_cast<Job*>(workspace(48, size_t(b - a) * sizeof(Job) / 4 + 1));
      for (int64_t ti = a; ti < b; ++ti) {
        const int64_t local = ti - pt0;
        const int64_t mi = m0 + local % nm, ki = kk0 + local / nm;
        const int64_t j0 = mb.start(mi), kc0 = kb.start(ki) * VL;
        const int nv = int(kb.size(ki)), mc = int(mb.size(mi));
        const int kt = int(std::min<int64_t>(VL, K - (kc0 + (nv - 1) * VL)));
        jobs[ti - a] = {j0 - c0, kc0 - k0, (j0 - c0) * lds + kc0 - k0, dw + j0 * K + kc0,
                        kt < VL ? pick_nv<true>(mc, nv) : pick_nv<false>(mc, nv), kt};
      }
      PixelWalk xw(p, x, 0);
      for (int64_t blk = 0; blk < pb.count; ++blk) {
        const int64_t q0 = pb.start(blk), np = pb.size(blk);
        for (int64_t i = 0; i < np; ++i, xw.next()) {
          copy_run(X + i * ldx, xw.px + c0, c1 - c0);
          copy_run(D + i * ldd, dy + (q0 + i) * K + k0, k1 - k0);
        }
        Prefetcher pf;
        if (blk + 1 < pb.count)
          pf.start(p, x, dy, pb.start(blk + 1), pb.size(blk + 1), c0, c1, k0, k1, b - a);
        for (int64_t j = 0; j < b - a; ++j) {
          pf.step();
          const Job& jb = jobs[j];
          const bool last = blk + 1 == pb.count;
          const TileArgs ta = {X + jb.xo, ldx, D + jb.dof, ldd, np, S + jb.ao, lds,
                               last ? jb.dwp : S + jb.ao, last ? K : lds, jb.kt, blk == 0};
          jb.fn(ta);
        }
      }
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
