// Convolution backward-weight and bias.
//
// dw[r,s,c,k] = sum over (n,oh,ow) of x[n, oh*sh - pt + r*dh, ow*sw - pl + s*dw, g*Cg + c]
//                                      * dy[n,oh,ow,g*Kg + k]
// For one filter row r the rows j = s*Cg + c of dw[r] form an (S*Cg) x Kg matrix, and row j
// reads x at a fixed offset from the pixel's base address: one GEMM over all output pixels,
// with M = S*Cg even when C = 3 (first layers: 21 rows for a 7x7, not 3).
//
// tiled: GEMM over blocks of kPix output pixels. Per block the thread packs the pixels' x
// rows for its (group, filter row) into a panel X[pixel][j] (zeros where the window hangs
// over the padding) and dy into D[pixel][k]; both panels get odd-line strides, since NHWC
// rows of 256 or 512 channels sit at power-of-two strides that map to a few cache sets.
// First layers (window rows of <= 96 floats) read x in place instead, through a list of
// pixel rows (see plan_rows). A register tile of MC rows x NV vectors along K (6x4, 8x3,
// 12x2 on AVX-512) then walks the block's pixels with broadcast-FMAs. Each thread owns a
// fixed set of dw tiles, decoded once, and walks the pixels in the same order, so each dw
// element is one sequential sum whatever the thread count: no partial copies of dw, no
// merge; working memory is the two panels. While a block runs, the next block's dy and x
// rows are prefetched into L2 (a few lines per tile), and, when dw is bigger than L2, each
// next tile's dw rows into L1.
// im2col: the same tiles over all R*S*Cg rows at once, x packed per 64-pixel block into
// im2col rows (short reductions: first layers; see conv2d_bwd_weight_im2col); with one group
// and dil_w = 1 nothing is packed: the tiles read a ring of zero-padded input rows in place
// (dw_im2col_rows).
// bias: fixed chunks of pixels (independent of the thread count), partials summed in order.
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

// Rows per tile (max). With one K vector (K <= 16: LeNet-5's conv2, 30 rows of 16) AVX-512's
// 32 registers hold 24 rows, so each dy vector is loaded for 15 FMAs instead of 10 (2 tiles
// over the pixels instead of 3); each dw element is still one sum over the pixels in order.
constexpr int kMCmax = kRegs == 32 ? 24 : 12;

// Pixels per block: a tile's D slice (64 pixels x 4 vectors, 16 KiB) and X lines stay in L1
// while it runs. Each block reloads the thread's dw tiles (prefetched, from L2 or L3); longer
// blocks that amortise that better lose more to D falling out of L1 (measured on res4 and
// VGG conv3_1, whose dw do not fit in L2).
constexpr int64_t kPix = 64;

// Row stride for a panel of n floats per row: whole vectors; when tiles read only a slice of
// each row (sliced) and the stride is a multiple of 4 cache lines, one more line, else a
// block's slice would fall into a few cache sets.
inline int64_t panel_ld(int64_t n, bool sliced) {
  const int64_t ld = (n + 15) / 16 * 16;
  return sliced && (ld / 16) % 4 == 0 ? ld + 16 : ld;
}

// A pixel's x row (at the tile's first row) and D row (at its first K column).
struct PixRow {
  const float* x;
  const float* d;
};

// One tile's pixels: rows at xp + q * ldx and dp + q * ldd (packed panels), or, when ROWS,
// listed in rows[q] (first layers read x in place).
struct TileArgs {
  const float* xp;
  int64_t ldx;
  const float* dp;
  int64_t ldd;
  const PixRow* rows;
  int64_t jo, ko;  // ROWS: the tile's first row and K column
  int64_t np;
  float* dwp;
  int64_t K;
  int kt;
};

template <int MC, int NV, bool TAIL, bool ROWS>
void dw_tile(const TileArgs& a) {
  const int64_t K = a.K, np = a.np, ldx = a.ldx, ldd = a.ldd;
  const int kt = a.kt;
  float* __restrict dwp = a.dwp;
  const float* xp = a.xp;
  const float* dp = a.dp;
  const PixRow* rows = a.rows;
  const int64_t jo = a.jo, ko = a.ko;
  vf acc[MC][NV];
#pragma GCC unroll 24
  for (int i = 0; i < MC; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      acc[i][v] = (TAIL && v == NV - 1) ? vload_n(dwp + i * K + v * VL, kt)
                                        : vload(dwp + i * K + v * VL);
  int64_t q = 0;
  do {  // np >= 1; a do-while keeps GCC from staging the accumulators through the stack
    const float* xq = ROWS ? rows[q].x + jo : xp + q * ldx;
    const float* dq = ROWS ? rows[q].d + ko : dp + q * ldd;
    vf d[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) d[v] = vload(dq + v * VL);
    bcast_fma(acc, xq, 1, d);
  } while (++q < np);
#pragma GCC unroll 24
  for (int i = 0; i < MC; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      vstore_n(dwp + i * K + v * VL, acc[i][v], (TAIL && v == NV - 1) ? kt : VL);
}

using DwFn = void (*)(const TileArgs&);
#define FC_DW_NV(MC, NV) {{&dw_tile<MC, NV, false, false>, &dw_tile<MC, NV, true, false>}, \
                          {&dw_tile<MC, NV, false, true>, &dw_tile<MC, NV, true, true>}}
#define FC_DW_NO {{nullptr, nullptr}, {nullptr, nullptr}}
#define FC_DW_MC(MC) {FC_DW_NV(MC, 1), FC_DW_NV(MC, 2), FC_DW_NV(MC, 3), FC_DW_NV(MC, 4)}
#define FC_DW_MC12(MC) {FC_DW_NV(MC, 1), FC_DW_NV(MC, 2), FC_DW_NO, FC_DW_NO}
#define FC_DW_MC24(MC) {FC_DW_NV(MC, 1), FC_DW_NO, FC_DW_NO, FC_DW_NO}
// [MC - 1][NV - 1][ROWS][TAIL]. MC > 8 only with NV <= 2 (a K of 16 or 32: taller tiles,
// fewer loads per FMA), MC > 12 only with NV = 1 on 32 registers.
const DwFn kDw[kMCmax][4][2][2] = {FC_DW_MC(1), FC_DW_MC(2), FC_DW_MC(3), FC_DW_MC(4),
                                   FC_DW_MC(5), FC_DW_MC(6), FC_DW_MC(7), FC_DW_MC(8),
                                   FC_DW_MC12(9), FC_DW_MC12(10), FC_DW_MC12(11),
                                   FC_DW_MC12(12)
#if defined(FC_ISA_avx512)
                                   , FC_DW_MC24(13), FC_DW_MC24(14), FC_DW_MC24(15),
                                   FC_DW_MC24(16), FC_DW_MC24(17), FC_DW_MC24(18),
                                   FC_DW_MC24(19), FC_DW_MC24(20), FC_DW_MC24(21),
                                   FC_DW_MC24(22), FC_DW_MC24(23), FC_DW_MC24(24)
#endif
};
#undef FC_DW_MC24
#undef FC_DW_MC12
#undef FC_DW_MC
#undef FC_DW_NO
#undef FC_DW_NV

// dst[0..n) = src[0..n) without a libc call per short run (first layers copy 3-21 floats);
// keep_in_register stops GCC from turning the loops back into memcpy / memset calls. Never
// reads src past n. kWholeVectors: the tail is stored as a whole vector, zeros past n (for
// packed panels, where the next run or the panel's slack takes the overhang).
template <bool kWholeVectors = false>
inline void copy_floats(float* __restrict dst, const float* __restrict src, int64_t n) {
  int64_t k = 0;
  for (; k + VL <= n; k += VL) {
    vf v = vload(src + k);
    keep_in_register(v);
    vstore(dst + k, v);
  }
  if (k == n) return;
  if constexpr (kWholeVectors) vstore(dst + k, vload_n(src + k, int(n - k)));
  else vstore_n(dst + k, vload_n(src + k, int(n - k)), int(n - k));
}

inline void zero_floats(float* dst, int64_t n) {
  int64_t k = 0;
  for (; k + VL <= n; k += VL) {
    vf z = {};
    keep_in_register(z);
    vstore(dst + k, z);
  }
  if (k < n) vstore_n(dst + k, vf{}, int(n - k));
}

// row[0 .. S*C) = the window of S whole pixels starting at column iw0 of the image row xr,
// zeros where it hangs over the left/right padding.
inline void pack_window(float* __restrict row, const float* __restrict xr, int64_t iw0,
                        int64_t S, int64_t C, int64_t W) {
  const int64_t s0 = std::clamp<int64_t>(-iw0, 0, S);
  const int64_t s1 = std::clamp<int64_t>(W - iw0, s0, S);
  zero_floats(row, s0 * C);
  copy_floats(row + s0 * C, xr + (iw0 + s0) * C, (s1 - s0) * C);
  zero_floats(row + s1 * C, (S - s1) * C);
}

// row[0 .. S*Cg) = filter row window of image row xr (offset to the group's channel 0) from
// column iw0: S taps dil_w apart, Cg channels each, zeros over the padding.
inline void pack_row(const ConvParams& p, float* __restrict row, const float* __restrict xr,
                     int64_t iw0, bool contiguous) {
  const int64_t S = p.S, Cg = p.Cg();
  if (contiguous && iw0 >= 0 && iw0 + S <= p.W) {  // inside the image: one run
    copy_floats(row, xr + iw0 * Cg, S * Cg);
  } else if (contiguous) {
    pack_window(row, xr, iw0, S, Cg, p.W);
  } else {
    for (int64_t s = 0; s < S; ++s) {
      const int64_t iw = iw0 + s * p.dil_w;
      if (iw < 0 || iw >= p.W) zero_floats(row + s * Cg, Cg);
      else copy_floats(row + s * Cg, xr + iw * p.C, Cg);
    }
  }
}

// X[i][s*Cg + c] = x[n, ih, iw, g*Cg + c] for the pixels q0.. of the block, filter row r.
void pack_x(const ConvParams& p, const float* __restrict x, int64_t q0, int64_t np, int64_t g,
            int64_t r, float* __restrict X, int64_t ldx) {
  const int64_t Cg = p.Cg(), S = p.S, M = S * Cg;
  // One contiguous run of x per pixel when the window's columns are adjacent pixels.
  const bool contiguous = p.dil_w == 1 && Cg == p.C;
  int64_t n = q0 / (p.P * p.Q), oh = q0 / p.Q % p.P, ow = q0 % p.Q;
  for (int64_t i = 0; i < np; ++i) {
    float* row = X + i * ldx;
    const int64_t ih = oh * p.stride_h - p.pad_t + r * p.dil_h;
    if (ih < 0 || ih >= p.H) {
      zero_floats(row, M);
    } else {
      const float* xr = x + (n * p.H + ih) * p.W * p.C + g * Cg;
      pack_row(p, row, xr, ow * p.stride_w - p.pad_l, contiguous);
    }
    if (++ow == p.Q) {
      ow = 0;
      if (++oh == p.P) oh = 0, ++n;
    }
  }
}

// First layers (a window row of S * C floats, contiguous in x, a few cache lines): pixels
// whose window lies inside the image read x in place, only the edge pixels are packed into
// X, and pixels whose filter row r falls in the top/bottom padding are left out (they add
// zeros). rows[] lists the rest in pixel order, so a tile's sums are unchanged; one list per
// block keeps each tile to one call (runs split at every image edge cost a reload of the
// tile each). Returns the count.
int64_t plan_rows(const ConvParams& p, const float* __restrict x, int64_t q0, int64_t np,
                  int64_t r, float* __restrict X, int64_t ldx, const float* D, int64_t ldd,
                  PixRow* rows) {
  const int64_t C = p.C, S = p.S;
  int64_t n = q0 / (p.P * p.Q), oh = q0 / p.Q % p.P, ow = q0 % p.Q, count = 0;
  for (int64_t i = 0; i < np; ++i) {
    const int64_t ih = oh * p.stride_h - p.pad_t + r * p.dil_h;
    if (ih >= 0 && ih < p.H) {
      const int64_t iw0 = ow * p.stride_w - p.pad_l;
      const float* xr = x + (n * p.H + ih) * p.W * C;
      if (iw0 < 0 || iw0 + S > p.W) {
        pack_window(X + i * ldx, xr, iw0, S, C, p.W);
        rows[count++] = {X + i * ldx, D + i * ldd};
      } else {
        rows[count++] = {xr + iw0 * C, D + i * ldd};
      }
    }
    if (++ow == p.Q) {
      ow = 0;
      if (++oh == p.P) oh = 0, ++n;
    }
  }
  return count;
}

// D[i][k] = dy[q0 + i, g*Kg + k], zero-filled up to whole vectors.
void pack_dy(const ConvParams& p, const float* __restrict dy, int64_t q0, int64_t np, int64_t g,
             float* __restrict D, int64_t ldd) {
  const int64_t Kg = p.Kg(), Kv = (Kg + VL - 1) / VL * VL;
  for (int64_t i = 0; i < np; ++i) {
    copy_floats(D + i * ldd, dy + (q0 + i) * p.K + g * Kg, Kg);
    zero_floats(D + i * ldd + Kg, Kv - Kg);
  }
}

// Input rows [ih0, ih1] the windows of output rows oh_lo .. oh_hi cover (clipped).
inline void window_rows(const ConvParams& p, int64_t oh_lo, int64_t oh_hi, int64_t& ih0,
                        int64_t& ih1) {
  ih0 = std::max<int64_t>(0, oh_lo * p.stride_h - p.pad_t);
  ih1 = std::min<int64_t>(p.H - 1, oh_hi * p.stride_h - p.pad_t + (p.R - 1) * p.dil_h);
}

// The memory a block of pixels q0 .. q0+np reads that the block before it (ending at pixel
// q0 - 1) did not: its dy rows and, per image, the input rows its windows cover beyond the
// previous block's (a superset for strided layers). At most kMaxSpans ranges.
struct Span {
  const char* p;
  int64_t bytes;
};
constexpr int kMaxSpans = 8;

int block_spans(const ConvParams& p, const float* x, const float* dy, int64_t q0, int64_t np,
                Span* sp) {
  int ns = 0;
  sp[ns++] = {reinterpret_cast<const char*>(dy + q0 * p.K), np * p.K * 4};
  const int64_t PQ = p.P * p.Q, q1 = q0 + np - 1;
  int64_t prev_n = -1, prev_ih1 = -1;  // the previous block's last image and input row
  if (q0 > 0) {
    int64_t ih0;
    prev_n = (q0 - 1) / PQ;
    window_rows(p, (q0 - 1) % PQ / p.Q, (q0 - 1) % PQ / p.Q, ih0, prev_ih1);
  }
  for (int64_t n = q0 / PQ; n <= q1 / PQ && ns < kMaxSpans; ++n) {
    int64_t ih0, ih1;
    window_rows(p, n == q0 / PQ ? q0 % PQ / p.Q : 0, n == q1 / PQ ? q1 % PQ / p.Q : p.P - 1,
                ih0, ih1);
    if (n == prev_n) ih0 = std::max(ih0, prev_ih1 + 1);
    if (ih1 >= ih0)
      sp[ns++] = {reinterpret_cast<const char*>(x + (n * p.H + ih0) * p.W * p.C),
                  (ih1 - ih0 + 1) * p.W * p.C * 4};
  }
  return ns;
}

// Walks the spans of the next block, a few cache lines per call, prefetching them into L2:
// the packs then read L2 instead of stalling on memory (the hardware prefetchers lose the
// streams between blocks).
struct Prefetcher {
  Span sp[kMaxSpans];
  int ns = 0, cur = 0;
  int64_t off = 0, per_call = 0;
  void start(const ConvParams& p, const float* x, const float* dy, int64_t q0, int64_t np,
             int64_t calls) {
    ns = block_spans(p, x, dy, q0, np, sp), cur = 0, off = 0;
    int64_t lines = 0;
    for (int i = 0; i < ns; ++i) lines += sp[i].bytes / 64 + 1;
    per_call = lines / std::max<int64_t>(calls, 1) + 1;
  }
  void step() {
    for (int64_t l = 0; l < per_call && cur < ns; ++l) {
      __builtin_prefetch(sp[cur].p + off, 0, 2);
      off += 64;
      if (off >= sp[cur].bytes) ++cur, off = 0;
    }
  }
};

}  // namespace

void conv2d_bwd_weight_tiled(const ConvParams& p, const float* dy, const float* x, float* dw) {
  const int nt = threads_for(conv_macs(p));
  const int64_t Cg = p.Cg(), Kg = p.Kg(), K = p.K, M = p.S * Cg;
  const Blocks kb((Kg + VL - 1) / VL, kTileNV);
  const int64_t nv_max = (kb.n + kb.count - 1) / kb.count;
  const Blocks mb(M, std::min<int64_t>(kMCmax, std::max<int64_t>(1, kTileAcc / nv_max)));
  // Task order (g, r, m block, k block): a thread repacks X only when (g, r) changes, and
  // consecutive tiles share their X lines.
  const int64_t tasks = p.groups * p.R * kb.count * mb.count;
  const int64_t pixels = p.N * p.P * p.Q;
  const Blocks pb(pixels, kPix);  // equal blocks: no short last one reloading every tile
  const int64_t ldx = panel_ld(M, mb.count > 1), ldd = panel_ld(kb.n * VL, kb.count > 1);
  // Short contiguous window rows (first layers) are read in place; wide ones are packed, as
  // their 1 KiB-apart pixels would fall into a few cache sets.
  const bool in_place = p.groups == 1 && p.dil_w == 1 && M <= 96;
  // The next tile's dw rows are prefetched into L1 when the thread's dw exceeds L2 (from L3
  // they would stall each tile's first loads); from L2 the prefetches only cost issue slots.
  const bool prefetch_dw = 4.0 * p.R * M * Kg * p.groups / nt > 512e3;
#pragma omp parallel num_threads(nt)
  {
    const int64_t nthr = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t t0 = tasks * tid / nthr, t1 = tasks * (tid + 1) / nthr;
    float* X = workspace(44, size_t(kPix * ldx));
    float* D = workspace(45, size_t(kPix * ldd));
    // The thread's tiles, decoded once (a decode per tile and block cost 7 integer
    // divisions, as much as a short tile's FMAs).
    struct Task {
      int64_t g, gr, j0, k0;
      float* dwp;
      DwFn fn;
      int mc, kt, row_bytes;
    };
    Task* tab = reinterpret_cast<Task*>(
        workspace(48, size_t(std::max<int64_t>(t1 - t0, 1)) * sizeof(Task) / sizeof(float) + 1));
    for (int64_t task = t0; task < t1; ++task) {
      Task& t = tab[task - t0];
      const int64_t kbi = task % kb.count, rest = task / kb.count;
      const int64_t m = rest % mb.count, gr = rest / mb.count;
      const int64_t g = gr / p.R, r = gr % p.R;
      const int nv = int(kb.size(kbi));
      t.g = g, t.gr = gr, t.j0 = mb.start(m), t.mc = int(mb.size(m));
      t.k0 = kb.start(kbi) * VL;
      t.kt = int(std::min<int64_t>(VL, Kg - (t.k0 + (nv - 1) * VL)));
      t.dwp = dw + (r * M + t.j0) * K + g * Kg + t.k0;
      t.fn = kDw[t.mc - 1][nv - 1][in_place][t.kt < VL];
      t.row_bytes = int(((nv - 1) * VL + t.kt) * 4);
      // zero the tiles this thread owns
      const int64_t k_end = std::min<int64_t>(Kg - t.k0, int64_t(nv) * VL);
      for (int64_t i = 0; i < t.mc; ++i)
        for (int64_t k = 0; k < k_end; ++k) t.dwp[i * K + k] = 0.0f;
    }
    PixRow rows[kPix];
    int64_t nrows = 0;
    const int64_t ntask = t1 - t0;
    for (int64_t b = 0; b < pb.count; ++b) {
      const int64_t q0 = pb.start(b), np = pb.size(b);
      int64_t packed_g = -1, packed_gr = -1;
      Prefetcher pf;
      if (b + 1 < pb.count) pf.start(p, x, dy, pb.start(b + 1), pb.size(b + 1), ntask);
      for (int64_t task = 0; task < ntask; ++task) {
        const Task& t = tab[task];
        pf.step();
        if (t.g != packed_g) pack_dy(p, dy, q0, np, t.g, D, ldd), packed_g = t.g;
        if (t.gr != packed_gr) {
          const int64_t r = t.gr % p.R;
          if (in_place) {
            nrows = plan_rows(p, x, q0, np, r, X, ldx, D, ldd, rows);
          } else {
            pack_x(p, x, q0, np, t.g, r, X, ldx);
            nrows = np;
          }
          packed_gr = t.gr;
        }
        // The next tile's dw rows into L1 while this one runs.
        const Task& tn = tab[task + 1 < ntask ? task + 1 : 0];
        for (int i = 0; prefetch_dw && i < tn.mc; ++i)
          for (int b = 0; b < tn.row_bytes; b += 64)
            __builtin_prefetch(reinterpret_cast<const char*>(tn.dwp + i * K) + b, 1, 3);
        if (nrows > 0) {
          const TileArgs a = {X + t.j0, ldx, D + t.k0, ldd, rows, t.j0, t.k0, nrows,
                              t.dwp, K, t.kt};
          t.fn(a);
        }
      }
    }
  }
}

// im2col: for layers with a short reduction R*S*Cg (first layers: 147 rows for a 7x7x3, 363
// for an 11x11x3) dw is one (R*S*Cg) x Kg GEMM. Per block of kPixIm pixels the thread packs
// the im2col rows of the filter rows its tiles need into a panel X[pixel][j] (one S*Cg run per
// filter row: interior pixels with whole-vector copies, edge pixels zero-filled over the
// padding); dy is read in place when Kg is whole vectors. Compared with the per-filter-row
// tiles this drops the per-row pixel lists (a pointer load per pixel and tile, and a list
// rebuilt per filter row and block) and the dy copy. The dw rows are cut into as many tiles
// as make an equal share per thread (a tile's shape never changes a sum: each thread owns
// its tiles and walks all pixels in order, so every dw element is one sequential sum
// whatever the thread count).
namespace {

// Pixels per block: a tile's dy slice (64 pixels x 4 vectors, 16 KiB) stays in L1 for the
// block's tiles; 128 (32 KiB, all of L1) ran at 0.75x on ResNet-50 conv1.
constexpr int64_t kPixIm = 64;


// X[i][(r - r0)*S*Cg + s*Cg + c] for filter rows r0 .. r1 of the pixels q0 .. q0+np, group g.
// X rows need VL floats of slack past (r1 - r0 + 1) * S*Cg.
void pack_im2col(const ConvParams& p, const float* __restrict x, int64_t q0, int64_t np,
                 int64_t g, int64_t r0, int64_t r1, float* __restrict X, int64_t ldx) {
  const int64_t Cg = p.Cg(), S = p.S, SC = S * Cg, rowstep = p.dil_h * p.W * p.C;
  const bool contiguous = p.dil_w == 1 && Cg == p.C;
  int64_t n = q0 / (p.P * p.Q), oh = q0 / p.Q % p.P, ow = q0 % p.Q;
  for (int64_t i = 0; i < np; ++i) {
    const int64_t iw0 = ow * p.stride_w - p.pad_l;
    const int64_t ih0 = oh * p.stride_h - p.pad_t + r0 * p.dil_h;
    const int64_t ih1 = oh * p.stride_h - p.pad_t + r1 * p.dil_h;
    const float* xn = x + n * p.H * p.W * p.C + g * Cg;
    float* row = X + i * ldx;
    if (contiguous && iw0 >= 0 && iw0 + S <= p.W && ih0 >= 0 && ih1 < p.H) {
      // Inside the image: one run per filter row, no clipping.
      const float* src = xn + (ih0 * p.W + iw0) * p.C;
      for (int64_t r = r0; r <= r1; ++r, row += SC, src += rowstep) copy_floats<true>(row, src, SC);
    } else {
      for (int64_t r = r0; r <= r1; ++r, row += SC) {
        const int64_t ih = ih0 + (r - r0) * p.dil_h;
        if (ih < 0 || ih >= p.H) zero_floats(row, SC);
        else pack_row(p, row, xn + ih * p.W * p.C, iw0, contiguous);
      }
    }
    if (++ow == p.Q) {
      ow = 0;
      if (++oh == p.P) oh = 0, ++n;
    }
  }
}

// im2col read in place, for one group with adjacent window columns (dil_w = 1; the first
// layers): each thread keeps a ring of zero-padded input rows, and a tile's rows never cross
// a filter row r, so along an output row pixel q's im2col row for filter row r sits at
// ring(ih) + q * sw * C, a fixed step: the tiles read the ring in place and nothing is packed
// per pixel (the panel pack took 28 % of dw on ResNet-50 conv1, 14 % on AlexNet conv1).
// Pixel blocks never cross an output row; tiles whose filter row falls into the top or
// bottom padding skip the block (it adds zeros). Each dw element is still one sum over the
// pixels in order, whatever the thread count.
void dw_im2col_rows(const ConvParams& p, const float* dy, const float* x, float* dw) {
  const int nt = threads_for(conv_macs(p));
  const int64_t C = p.C, K = p.K, R = p.R, SC = p.S * C;
  const Blocks kb((K + VL - 1) / VL, kTileNV);
  const int64_t nv_max = (kb.n + kb.count - 1) / kb.count;
  const int64_t mc_max = std::min<int64_t>(kMCmax, std::max<int64_t>(1, kTileAcc / nv_max));
  // Tiles per filter row: the fewest of <= mc_max rows, plus up to nt - 1 more for equal
  // shares (7x7x3: 4 tiles of 5-6 rows a filter row, 14 tiles a thread at 2 threads).
  int64_t mb = (SC + mc_max - 1) / mc_max;
  for (int64_t e = 0; e < nt; ++e)
    if ((R * (mb + e) * kb.count) % nt == 0 && mb + e <= SC) {
      mb += e;
      break;
    }
  const int64_t tasks = R * mb * kb.count;
  const Blocks qb(p.Q, kPixIm);
  const bool dy_in_place = K % VL == 0 && reinterpret_cast<uintptr_t>(dy) % (VL * 4) == 0;
  const int64_t ldd = dy_in_place ? K : panel_ld(kb.n * VL, kb.count > 1);
  // A padded row holds every column a window reaches: (Q - 1) * sw - pl + S <= W + pr.
  const int64_t rowlen = (p.W + p.pad_l + p.pad_r) * C, nslots = (R - 1) * p.dil_h + 1;
  const int64_t ldx = p.stride_w * C;
#pragma omp parallel num_threads(nt)
  {
    const int64_t nthr = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t t0 = tasks * tid / nthr, t1 = tasks * (tid + 1) / nthr;
    float* D = dy_in_place ? nullptr : workspace(45, size_t(kPixIm * ldd));
    float* ring = workspace(44, size_t(nslots * rowlen));
    // tags[slot]: n * H + ih of the row in the slot, -1 if none; rowp[r]: this output row's
    // input row for filter row r, nullptr in the padding.
    int64_t* tags = reinterpret_cast<int64_t*>(workspace(46, size_t(2 * nslots)));
    const float** rowp = reinterpret_cast<const float**>(workspace(47, size_t(2 * R)));
    for (int64_t i = 0; i < nslots; ++i) tags[i] = -1;
    struct Task {
      int64_t r, jr, k0;  // filter row, first row of the tile within it, first K column
      float* dwp;
      DwFn fn;
      int kt;
    };
    Task* tab = reinterpret_cast<Task*>(
        workspace(48, size_t(std::max<int64_t>(t1 - t0, 1)) * sizeof(Task) / sizeof(float) + 1));
    for (int64_t task = t0; task < t1; ++task) {
      Task& t = tab[task - t0];
      const int64_t kbi = task % kb.count, m = task / kb.count % mb, r = task / (kb.count * mb);
      const int nv = int(kb.size(kbi));
      const int mc = int((m + 1) * SC / mb - m * SC / mb);
      t.r = r, t.jr = m * SC / mb, t.k0 = kb.start(kbi) * VL;
      t.kt = int(std::min<int64_t>(VL, K - (t.k0 + (nv - 1) * VL)));
      t.dwp = dw + (r * SC + t.jr) * K + t.k0;
      t.fn = kDw[mc - 1][nv - 1][0][t.kt < VL];
      const int64_t k_end = std::min<int64_t>(K - t.k0, int64_t(nv) * VL);
      for (int64_t i = 0; i < mc; ++i)
        for (int64_t k = 0; k < k_end; ++k) t.dwp[i * K + k] = 0.0f;
    }
    for (int64_t row = 0; row < p.N * p.P; ++row) {
      const int64_t n = row / p.P, oh = row % p.P;
      for (int64_t r = 0; r < R; ++r) {
        const int64_t ih = oh * p.stride_h - p.pad_t + r * p.dil_h;
        if (ih < 0 || ih >= p.H) {
          rowp[r] = nullptr;
          continue;
        }
        const int64_t slot = ih % nslots;
        float* dst = ring + slot * rowlen;
        if (tags[slot] != n * p.H + ih) {
          tags[slot] = n * p.H + ih;
          zero_floats(dst, p.pad_l * C);
          copy_floats(dst + p.pad_l * C, x + (n * p.H + ih) * p.W * C, p.W * C);
          zero_floats(dst + (p.pad_l + p.W) * C, p.pad_r * C);
        }
        rowp[r] = dst;
      }
      for (int64_t b = 0; b < qb.count; ++b) {
        const int64_t q0 = qb.start(b), np = qb.size(b), pix = row * p.Q + q0;
        if (!dy_in_place) pack_dy(p, dy, pix, np, 0, D, ldd);
        // The next block's dy (it follows this one) into L2 a few lines per tile: the pack
        // or the tiles would stall on memory for it (dy is streamed once per thread).
        const char* pf = reinterpret_cast<const char*>(dy + (pix + np) * K);
        const char* pf_end = reinterpret_cast<const char*>(
            dy + std::min(pix + np + kPixIm, p.N * p.P * p.Q) * K);
        const int64_t pf_step = ((pf_end - pf) / 64 / std::max<int64_t>(t1 - t0, 1) + 1) * 64;
        for (int64_t task = 0; task < t1 - t0; ++task) {
          for (const char* e = std::min(pf + pf_step, pf_end); pf < e; pf += 64)
            __builtin_prefetch(pf, 0, 2);
          const Task& t = tab[task];
          if (!rowp[t.r]) continue;
          const float* dp = dy_in_place ? dy + pix * K + t.k0 : D + t.k0;
          const TileArgs a = {rowp[t.r] + q0 * ldx + t.jr, ldx, dp, ldd, nullptr, 0, 0, np,
                              t.dwp, K, t.kt};
          t.fn(a);
        }
      }
    }
  }
}

}  // namespace

void conv2d_bwd_weight_im2col(const ConvParams& p, const float* dy, const float* x, float* dw) {
  if (p.groups == 1 && p.dil_w == 1) return dw_im2col_rows(p, dy, x, dw);
  const int nt = threads_for(conv_macs(p));
  const int64_t Cg = p.Cg(), Kg = p.Kg(), K = p.K, SC = p.S * Cg, M = p.R * SC;
  const Blocks kb((Kg + VL - 1) / VL, kTileNV);
  const int64_t nv_max = (kb.n + kb.count - 1) / kb.count;
  const int64_t mc_max = std::min<int64_t>(kMCmax, std::max<int64_t>(1, kTileAcc / nv_max));
  // Row blocks: the fewest tiles of <= mc_max rows, plus up to nt - 1 more so that the tasks
  // split into equal shares (147 rows of a 7x7x3: 26 tiles, 13 a thread at 2 threads).
  int64_t mblocks = (M + mc_max - 1) / mc_max;
  for (int64_t e = 0; e < nt; ++e)
    if ((p.groups * (mblocks + e) * kb.count) % nt == 0 && mblocks + e <= M) {
      mblocks += e;
      break;
    }
  // Task order (g, m block, k block): consecutive tiles share their X lines.
  const int64_t tasks = p.groups * mblocks * kb.count;
  const int64_t pixels = p.N * p.P * p.Q;
  const Blocks pb(pixels, kPixIm);
  // dy in place when its rows are whole aligned vectors; else packed (zero-filled to whole
  // vectors, aligned: a NumPy array 16 bytes off a line split every vector load of dy).
  const bool dy_in_place =
      Kg % VL == 0 && K % VL == 0 && reinterpret_cast<uintptr_t>(dy) % (VL * 4) == 0;
  const int64_t ldd = dy_in_place ? K : panel_ld(kb.n * VL, kb.count > 1);
#pragma omp parallel num_threads(nt)
  {
    const int64_t nthr = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t t0 = tasks * tid / nthr, t1 = tasks * (tid + 1) / nthr;
    float* D = dy_in_place ? nullptr : workspace(45, size_t(kPixIm * ldd));
    struct Task {
      int64_t g, j0, k0, r0, r1;  // r0..r1: the filter rows to pack (first task of a group)
      float* dwp;
      DwFn fn;
      int mc, kt;
    };
    Task* tab = reinterpret_cast<Task*>(
        workspace(48, size_t(std::max<int64_t>(t1 - t0, 1)) * sizeof(Task) / sizeof(float) + 1));
    int64_t xcols = 0;  // the widest packed range of filter rows, in floats
    for (int64_t task = t0; task < t1; ++task) {
      Task& t = tab[task - t0];
      const int64_t kbi = task % kb.count, m = task / kb.count % mblocks;
      const int64_t g = task / (kb.count * mblocks);
      const int nv = int(kb.size(kbi));
      t.g = g, t.j0 = m * M / mblocks, t.mc = int((m + 1) * M / mblocks - t.j0);
      t.k0 = kb.start(kbi) * VL;
      t.kt = int(std::min<int64_t>(VL, Kg - (t.k0 + (nv - 1) * VL)));
      t.dwp = dw + t.j0 * K + g * Kg + t.k0;
      t.fn = kDw[t.mc - 1][nv - 1][0][t.kt < VL];
      t.r0 = t.r1 = -1;
      const int64_t k_end = std::min<int64_t>(Kg - t.k0, int64_t(nv) * VL);
      for (int64_t i = 0; i < t.mc; ++i)
        for (int64_t k = 0; k < k_end; ++k) t.dwp[i * K + k] = 0.0f;
      // The first task of each group in this thread packs the rows of all of them.
      Task* first = &t;
      while (first > tab && (first - 1)->g == g) --first;
      const int64_t ra = t.j0 / SC, rb = (t.j0 + t.mc - 1) / SC;
      first->r0 = first->r0 < 0 ? ra : std::min(first->r0, ra);
      first->r1 = std::max(first->r1, rb);
      xcols = std::max(xcols, (first->r1 - first->r0 + 1) * SC);
    }
    const int64_t ldx = panel_ld(xcols + VL, true);
    float* X = workspace(44, size_t(kPixIm * ldx));
    const int64_t ntask = t1 - t0;
    int64_t xr0 = 0;  // the filter row at X's column 0
    for (int64_t b = 0; b < pb.count; ++b) {
      const int64_t q0 = pb.start(b), np = pb.size(b);
      Prefetcher pf;
      if (b + 1 < pb.count) pf.start(p, x, dy, pb.start(b + 1), pb.size(b + 1), ntask);
      for (int64_t task = 0; task < ntask; ++task) {
        const Task& t = tab[task];
        pf.step();
        if (t.r0 >= 0) {
          pack_im2col(p, x, q0, np, t.g, t.r0, t.r1, X, ldx);
          if (!dy_in_place) pack_dy(p, dy, q0, np, t.g, D, ldd);
          xr0 = t.r0;
        }
        const float* dp = dy_in_place ? dy + q0 * K + t.g * Kg + t.k0 : D + t.k0;
        const TileArgs a = {X + t.j0 - xr0 * SC, ldx, dp, ldd, nullptr, 0, 0, np, t.dwp, K,
                            t.kt};
        t.fn(a);
      }
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
  // One pass over dy, memory-bound: one thread below 2^18 floats, as the pooling kernels
  // (LeNet-5's 150 k and 51 k took 20-30 us, less than a fork of a sleeping worker costs).
  parallel_region(pixels * K < (int64_t(1) << 18) ? 1 : num_threads(), [&] {
    for_static(chunks, [&](int64_t ch) {
      float* __restrict acc = part + ch * K;
      for (int64_t k = 0; k < K; ++k) acc[k] = 0.0f;
      const int64_t end = std::min(pixels, (ch + 1) * kChunk);
      int64_t px = ch * kChunk;
      if (K < VL) {
        // Few channels: VL pixels are K whole vectors; lane j of vector v is channel
        // (v * VL + j) % K. Folded into acc in lane order after the chunk.
        vf a[VL] = {};
        for (; px + VL <= end; px += VL)
          for (int64_t v = 0; v < K; ++v) a[v] += vload(dy + px * K + v * VL);
        int64_t k = 0;  // (v * VL + j) % K, counted (a 64-bit idiv per lane cost 10x the sum)
        for (int64_t v = 0; v < K; ++v)
          for (int j = 0; j < VL; ++j) {
            acc[k] += a[v][j];
            k = k + 1 == K ? 0 : k + 1;
          }
      }
      for (; px < end; ++px) {
        const float* __restrict d = dy + px * K;
        for (int64_t k = 0; k < K; ++k) acc[k] += d[k];
      }
    });
  });
  for (int64_t k = 0; k < K; ++k) db[k] = 0.0f;
  for (int64_t ch = 0; ch < chunks; ++ch)
    for (int64_t k = 0; k < K; ++k) db[k] += part[ch * K + k];
}

}  // namespace FC_ISA_NS
}  // namespace fc
