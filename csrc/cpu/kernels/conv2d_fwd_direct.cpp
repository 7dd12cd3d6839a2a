// Convolution forward, register-blocked direct convolution ("direct" and "gemm1x1" variants).
//
// The microkernel (conv2d_fwd_ukernel.h) computes a tile of output pixels along a row times
// 32|16 output channels in vector registers.
//
// Weights are repacked per call into the workspace as [group][K block][r][s][c][KB], zero
// padded to a whole block, so the reduction over (r, s, c) reads them sequentially. When the
// input channels of neighbouring filter taps are contiguous (groups == 1, dilation_w == 1),
// the (s, c) loops fold into one reduction of length S * C: the 1-3 channel first layers then
// have a long vector loop instead of a 3-step one. Tiles that touch the left/right padding
// copy their input window into a small zero-padded buffer (bounded by the tile) and run the
// same microkernel, or, on short rows where most tiles touch it, each task copies its input
// rows once into a zero-padded strip (bounded by 1 MB); rows in the top/bottom padding are
// skipped.
//
// Every output element is computed by one task with a fixed reduction order ((channel block),
// r, s, c; one channel block unless C > 1024), so the result never depends on the thread
// count or the task split. Threads share (group of output rows, K-block range) tasks (rows
// flattened over the batch; a group runs every tile of its rows per K block, so the block's
// weights are reused from L2); groups split their K blocks when there are few (batch 1), so
// small layers still use both cores.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <utility>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "cpu/blocks.h"
#include "cpu/conv2d.h"
#include "cpu/conv2d_backward.h"
#include "cpu/memory.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {
#include "conv2d_fwd_ukernel.h"
namespace {

// Packs HWIO weights into [g][kb][r][s][c][KB] and the bias into [g][kb][KB], zero padded.
// At batch 1 on 14x14/7x7 layers the per-call pack is a third to a half of the time (ResNet-50
// 1x1 1024->2048: 2.6 of 5 ms), so it runs on every thread for weights of 1 MB and more (each
// packs whole bands of rows: a pure copy, the split does not matter; 512->2048 at 7x7 on two
// threads: 1.9 -> 1.3 ms for the layer). Within a band (~128 KB of w) the rows are read in
// order; with few K blocks each row is scattered to every block, with many (>= 32: 1x1
// 512->2048) the band is prefetched and then written block by block, so each block's stream
// gets band * KB contiguous floats (scattering rows to 64 streams: 1.1-1.35 ms, by block
// 0.55 ms). Reading w block by block instead strode K floats per step through a layer's whole
// weights once per block.
void pack(const ConvParams& p, const float* w, const float* b, int KB, float* wp, float* bp) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), nkb = (Kg + KB - 1) / KB, RSC = p.R * p.S * Cg;
  const int64_t band = std::max<int64_t>(1, 32768 / p.K), nband = (RSC + band - 1) / band;
  const bool by_block = nkb >= 32;
  const int nt = RSC * p.K >= (int64_t(1) << 18) ? num_threads() : 1;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t bi = 0; bi < nband; ++bi) {
    const int64_t i0 = bi * band, i1 = std::min(RSC, i0 + band);
    if (by_block) {
      for (const float* q = w + i0 * p.K; q < w + i1 * p.K; q += 16) __builtin_prefetch(q, 0, 3);
      for (int64_t g = 0; g < p.groups; ++g)
        for (int64_t kb = 0; kb < nkb; ++kb) {
          const int64_t k0 = kb * KB, kn = std::min<int64_t>(KB, Kg - k0);
          const float* src = w + i0 * p.K + g * Kg + k0;
          float* dst = wp + ((g * nkb + kb) * RSC + i0) * KB;
          for (int64_t i = i0; i < i1; ++i, src += p.K, dst += KB) {
            for (int64_t k = 0; k < kn; ++k) dst[k] = src[k];
            for (int64_t k = kn; k < KB; ++k) dst[k] = 0.0f;
          }
        }
    } else {
      for (int64_t i = i0; i < i1; ++i)  // i = (r * S + s) * Cg + c, as in HWIO
        for (int64_t g = 0; g < p.groups; ++g) {
          const float* src = w + i * p.K + g * Kg;
          for (int64_t kb = 0; kb < nkb; ++kb) {
            const int64_t k0 = kb * KB, kn = std::min<int64_t>(KB, Kg - k0);
            float* dst = wp + ((g * nkb + kb) * RSC + i) * KB;
            for (int64_t k = 0; k < kn; ++k) dst[k] = src[k0 + k];
            for (int64_t k = kn; k < KB; ++k) dst[k] = 0.0f;
          }
        }
    }
  }
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t k0 = g * Kg + kb * KB, kn = std::min<int64_t>(KB, Kg - kb * KB);
      float* bd = bp + (g * nkb + kb) * KB;
      for (int64_t k = 0; k < KB; ++k) bd[k] = (b && k < kn) ? b[k0 + k] : 0.0f;
    }
}

// pack() for 1x1 weights given swapped, as wk[k][c] (k < K, c < C: the HWIO weights of the
// layer whose dx this GEMM computes), with a zero bias: one pass of 4x4 transposes instead of
// a transpose (rotate_swap) and then pack (7x7 512->2048 dx at batch 1: 4.5 -> 2.6 ms; the
// forward of the same GEMM, with its pack, 2.3 ms). Each block's KB x C slab of wk is
// transposed in runs of 64 channels, so the writes (KB floats apart) stay in L1.
void pack_swapped(const ConvParams& p, const float* wk, int KB, float* wp, float* bp) {
  const int64_t C = p.C, K = p.K, nkb = (K + KB - 1) / KB;
  const int nt = C * K >= (int64_t(1) << 18) ? num_threads() : 1;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const int64_t k0 = kb * KB, kn = std::min<int64_t>(KB, K - k0);
    float* dst = wp + kb * C * KB;
    for (int64_t c0 = 0; c0 < C; c0 += 64) {
      const int64_t c1 = std::min(C, c0 + 64);
      int64_t j = 0;
#if defined(__SSE__)
      const int64_t c4 = c0 + (c1 - c0) / 4 * 4;
      for (; j + 4 <= kn; j += 4) {
        const float* s0 = wk + (k0 + j) * C;
        for (int64_t c = c0; c < c4; c += 4) {
          __m128 r0 = _mm_loadu_ps(s0 + c), r1 = _mm_loadu_ps(s0 + C + c);
          __m128 r2 = _mm_loadu_ps(s0 + 2 * C + c), r3 = _mm_loadu_ps(s0 + 3 * C + c);
          _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
          _mm_storeu_ps(dst + c * KB + j, r0);
          _mm_storeu_ps(dst + (c + 1) * KB + j, r1);
          _mm_storeu_ps(dst + (c + 2) * KB + j, r2);
          _mm_storeu_ps(dst + (c + 3) * KB + j, r3);
        }
        for (int64_t c = c4; c < c1; ++c)
          for (int64_t i = 0; i < 4; ++i) dst[c * KB + j + i] = s0[i * C + c];
      }
#endif
      for (; j < kn; ++j) {
        const float* src = wk + (k0 + j) * C;
        for (int64_t c = c0; c < c1; ++c) dst[c * KB + j] = src[c];
      }
      for (; j < KB; ++j)
        for (int64_t c = c0; c < c1; ++c) dst[c * KB + j] = 0.0f;
    }
  }
  for (int64_t i = 0; i < nkb * KB; ++i) bp[i] = 0.0f;
}

// Row pairs: output rows of half a tile (7x7 layers on AVX-512, 7 of a tile's 14 pixels) run
// two consecutive rows (flattened over the batch, so their outputs are contiguous) in one full
// tile, which halves the weight loads per FMA; at half a tile a row's 14 accumulators
// re-streamed the K block's weights (590 KB on 512-channel 3x3 layers) from L2 for every 7
// pixels. The task copies its input rows into a strip with the top/bottom padding as zero
// rows (padded row n * Hp + ih + pad_t, Wp pixels each), so both rows of a pair run every
// filter row; single rows (a group's odd last row) run the same way, so every output sums
// the same terms in the same order whether or not it is paired.
// Strip pixel stride: channels padded by one cache line when a pixel is a multiple of 1 KB
// (256-channel multiples), so the tile's 14 pixel streams (2-4 KB apart with 512 channels, at
// stride 1 or 2) do not fall into one or two L1 sets; (s, c) then run as S groups of Cg.
inline int64_t row_pair_stride(int64_t Cg) { return Cg % 256 == 0 ? Cg + 16 : Cg; }

template <int NV>
void row_pair_task(const ConvParams& p, const float* x, const float* wp, const float* bp,
                   int64_t g, int64_t kb0, int64_t kb1, int64_t row0, int64_t row1,
                   float* y) {
  constexpr int KB = NV * V;
  const int64_t Cg = p.Cg(), Kg = p.Kg(), C = p.C, K = p.K, RSC = p.R * p.S * Cg;
  const int64_t nkb = (Kg + KB - 1) / KB;
  const int64_t Hp = p.H + p.pad_t + p.pad_b, Wp = p.W + p.pad_l + p.pad_r;
  const int64_t cs = row_pair_stride(Cg);
  auto padded_row = [&](int64_t row) { return row / p.P * Hp + row % p.P * p.stride_h; };
  const int64_t lo = padded_row(row0), hi = padded_row(row1 - 1) + (p.R - 1) * p.dil_h + 1;
  float* strip = workspace(5, size_t((hi - lo) * Wp * cs));
  for (int64_t gp = lo; gp < hi; ++gp) {
    const int64_t n = gp / Hp, ih = gp % Hp - p.pad_t;
    float* d = strip + (gp - lo) * Wp * cs;
    if (ih < 0 || ih >= p.H) {
      std::memset(d, 0, sizeof(float) * Wp * cs);
      continue;
    }
    const float* src = x + (n * p.H + ih) * p.W * C + g * Cg;
    std::memset(d, 0, sizeof(float) * p.pad_l * cs);
    if (Cg == C && cs == Cg) {
      std::memcpy(d + p.pad_l * cs, src, sizeof(float) * p.W * Cg);
    } else {
      for (int64_t i = 0; i < p.W; ++i)
        std::memcpy(d + (p.pad_l + i) * cs, src + i * C, sizeof(float) * Cg);
    }
    std::memset(d + (p.pad_l + p.W) * cs, 0, sizeof(float) * p.pad_r * cs);
  }
  const bool fold = p.dil_w == 1 && cs == Cg;  // (s, c) contiguous in the strip
  Tile t;
  t.ys = K;
  t.wr = p.S * Cg * KB;
  t.wsg = Cg * KB;
  t.xs = p.stride_w * cs;
  t.rs = p.dil_h * Wp * cs;
  t.nsg = fold ? 1 : int(p.S);
  t.ls = fold ? 0 : p.dil_w * cs;
  t.L = int(fold ? p.S * Cg : Cg);
  t.nr = int(p.R);
  t.accum = false;
  t.relu = p.relu;
  t.pf = nullptr;
  const UkFn pair = pick_row_pair<NV>(), single = pick<NV>(int(p.Q));
  for (int64_t kb = kb0; kb < kb1; ++kb) {
    t.w = wp + (g * nkb + kb) * RSC * KB;
    t.bias = bp + (g * nkb + kb) * KB;
    t.kvalid = int(std::min<int64_t>(KB, Kg - kb * KB));
    for (int64_t row = row0; row < row1; row += 2) {
      t.x = strip + (padded_row(row) - lo) * Wp * cs;
      t.y = y + row * p.Q * K + g * Kg + kb * KB;
      if (row + 1 < row1) {
        t.x2 = (padded_row(row + 1) - padded_row(row)) * Wp * cs;
        pair(t);
      } else {
        t.x2 = 0;
        single(t);
      }
    }
  }
}

// Input channels per pass (partial sums go through the output between passes). Measured on
// the 2-core AVX-512 machine: blocks of 16-64 channels (weights of a pass in L1) were 10-40 %
// slower than one pass on the 3x3 layers and no faster on 1x1, so only very wide layers split.
inline int64_t channel_block(int64_t Cg) { return Cg > 1024 ? 512 : Cg; }

// Outputs from this size on (half the shared L3) are stored non-temporally by gemm1x1.
constexpr int64_t kStreamBytes = int64_t(16) << 20;

// K vectors per block of the direct and gemm1x1 kernels (and so of their packed weights).
inline int direct_nv(const ConvParams& p) { return p.Kg() <= V ? 1 : 2; }

// Floats of pack()'s weights for p, KB = NV * V; the padded bias (groups x K blocks x KB)
// follows them in a prepacked buffer.
inline int64_t packed_weight_floats(const ConvParams& p, int KB) {
  return p.groups * ((p.Kg() + KB - 1) / KB) * KB * p.R * p.S * p.Cg();
}
inline int64_t packed_bias_floats(const ConvParams& p, int KB) {
  return p.groups * ((p.Kg() + KB - 1) / KB) * KB;
}

// The packed weights and bias a kernel runs on: those given (prepacked by
// conv2d_fwd_direct_pack), or packed now into the workspace.
std::pair<const float*, const float*> packed_or_pack(const ConvParams& p, const float* w,
                                                     const float* b, const float* packed,
                                                     int KB) {
  const int64_t nw = packed_weight_floats(p, KB);
  if (packed) return {packed, packed + nw};
  float* wp = workspace(0, size_t(nw));
  float* bp = workspace(1, size_t(packed_bias_floats(p, KB)));
  pack(p, w, b, KB, wp, bp);
  return {wp, bp};
}

template <int NV>
void direct(const ConvParams& p, const float* x, const float* w, const float* b, float* y,
            const float* packed) {
  constexpr int KB = NV * V, WB = NV == 2 ? WB_2 : WB_1;
  const int64_t Cg = p.Cg(), Kg = p.Kg(), C = p.C, K = p.K, G = p.groups;
  const int64_t nkb = (Kg + KB - 1) / KB, RSC = p.R * p.S * Cg;
  const float *wp, *bp;
  std::tie(wp, bp) = packed_or_pack(p, w, b, packed, KB);

  const int64_t Cb = channel_block(Cg), ncb = (Cg + Cb - 1) / Cb;
  const bool one_pass = ncb == 1;
  const bool fold = one_pass && G == 1 && p.dil_w == 1;  // (s, c) contiguous in x and w
  const int64_t ntile = (p.Q + WB - 1) / WB, rows = p.N * p.P;
  // A task runs a group of output rows (flattened over the batch) for each of its K blocks,
  // so a K block's packed weights (up to R * S * Cg * KB floats, 590 KB on 3x3 512-channel
  // layers) are reused from L2 by about 8 tiles instead of 1-2 on short rows. Threads get
  // their parallelism from splitting the K blocks, not the rows: at batch 1 on 14x14 layers,
  // one row per task re-read every weight from memory for every row (memory-bound).
  // Groups shrink (to one row) only when the K blocks cannot give 16 tasks: batch 1 with
  // K <= 32 (Inception 5x5 at 28x28 had 7 tasks, a 4/3 split between two threads).
  // K blocks of over 384 KB of weights (3x3 with 512 input channels: 590 KB, most of the L2)
  // get 16 tiles, and row pairs (two rows a tile) twice the rows, shrunk by quarters until
  // the pairs' strips fit in 1 MB (below): ResNet-50's 512-channel 3x3 at batch 16, 1 thread,
  // alternating in one process: 7x7 42 -> 35 ms, stride 2 from 14x14 (12-13 rows) 52 -> 43 ms,
  // VGG's 14x14 134 -> 122 ms; 256 channels (295 KB) did not gain, so they keep 8.
  const bool pairs = one_pass && 2 * p.Q == WB;  // row_pair_task's shape
  // Row pairs where every group's padded strip stays within 1 MB (as the strips below).
  auto pairs_fit = [&](const Blocks& grps) {
    for (int64_t grp = 0; grp < grps.count; ++grp) {
      const int64_t r0 = grps.start(grp), r1 = grps.start(grp + 1) - 1;
      const int64_t Hp = p.H + p.pad_t + p.pad_b, Wp = p.W + p.pad_l + p.pad_r;
      const int64_t span = (r1 / p.P * Hp + r1 % p.P * p.stride_h) -
                           (r0 / p.P * Hp + r0 % p.P * p.stride_h) + (p.R - 1) * p.dil_h + 1;
      if (span * Wp * row_pair_stride(Cg) > (int64_t(1) << 18)) return false;
    }
    return true;
  };
  const int64_t tiles_per_group = Cb * p.R * p.S * KB > 98304 ? 16 : 8;
  const int64_t rg_cap = rows * G * nkb / 16;
  const int64_t rg8 = std::clamp<int64_t>(std::min<int64_t>(8 / ntile, rg_cap), 1, rows);
  int64_t rg = std::clamp<int64_t>(
      std::min<int64_t>(tiles_per_group * (pairs ? 2 : 1) / ntile, rg_cap), 1, rows);
  while (pairs && rg > rg8 && !pairs_fit(Blocks(rows, rg))) rg = std::max(rg8, rg * 3 / 4);
  const Blocks rgroups(rows, rg);  // groups of near-equal size, so the threads stay balanced
  const int64_t ngroups = rgroups.count;
  // About 16 tasks or more, so two or three threads split them within a few percent.
  const int64_t units = ngroups * G;
  const int64_t nkc = std::min<int64_t>(nkb, (16 + units - 1) / units);
  const Blocks kchunks(nkb, (nkb + nkc - 1) / nkc);
  const int64_t tasks = ngroups * G * kchunks.count;
  const int64_t span_max = (WB - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1;
  // Padded tiles copy their window per K block and row. When most tiles are padded (rows of
  // 1-2 tiles: 14x14 and 28x28 layers) a task instead copies its input rows once into a strip
  // with zero columns, and every tile reads it in place: 10-30x fewer floats copied.
  int64_t padded_tiles = 0;
  for (int64_t tile = 0; tile < ntile; ++tile) {
    const int64_t ow0 = tile * WB, wb = std::min<int64_t>(WB, p.Q - ow0);
    const int64_t iw0 = ow0 * p.stride_w - p.pad_l;
    padded_tiles += iw0 < 0 || iw0 + (wb - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1 > p.W;
  }
  const int64_t Wp = p.W + p.pad_l + p.pad_r;
  const int64_t strip_rows = (rgroups.size(0) - 1) * p.stride_h + (p.R - 1) * p.dil_h + 1;
  // (At most 1 MB, an L2: wider rows have few padded tiles, and the windows stay cheaper.)
  const bool use_strip = padded_tiles > 0 && strip_rows * Wp * Cb <= (int64_t(1) << 18) &&
                         ngroups * kchunks.count * strip_rows * Wp <
                             rows * nkb * padded_tiles * p.R * span_max;
  const bool row_pairs = pairs && pairs_fit(rgroups);

  // Tasks go to whichever thread is free (see for_dynamic in threads.h).
#pragma omp parallel for num_threads(threads_for_work(double(p.N) * p.P * p.Q * p.K * p.R * p.S * p.Cg())) schedule(dynamic, 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t nkc_ = kchunks.count;
    const int64_t kc = task % nkc_, g = (task / nkc_) % G, grp = task / (nkc_ * G);
    const int64_t kb0 = kchunks.start(kc), kb1 = kchunks.start(kc + 1);
    const int64_t row0 = rgroups.start(grp), row1 = rgroups.start(grp + 1);
    if (row_pairs) {
      row_pair_task<NV>(p, x, wp, bp, g, kb0, kb1, row0, row1, y);
      continue;
    }
    float* buf = nullptr;
    Tile t;
    t.ys = K;
    t.wr = p.S * Cg * KB;
    t.wsg = Cg * KB;
    // The strip holds global input rows (n * H + ih) [g_lo, g_hi) of the task's rows, each
    // of Wp pixels (pad_l zeros, the W pixels, pad_r zeros) x cl channels.
    int64_t g_lo = 0, g_hi = 0;
    if (use_strip) {
      g_lo = INT64_MAX;
      for (int64_t row = row0; row < row1; ++row) {
        const int64_t n = row / p.P, ih0 = (row % p.P) * p.stride_h - p.pad_t;
        int64_t r_lo = 0, r_hi = p.R;
        while (r_lo < p.R && ih0 + r_lo * p.dil_h < 0) ++r_lo;
        while (r_hi > r_lo && ih0 + (r_hi - 1) * p.dil_h >= p.H) --r_hi;
        if (r_hi == r_lo) continue;
        g_lo = std::min(g_lo, n * p.H + ih0 + r_lo * p.dil_h);
        g_hi = std::max(g_hi, n * p.H + ih0 + (r_hi - 1) * p.dil_h + 1);
      }
      if (g_hi <= g_lo) g_lo = g_hi = 0;
    }
    float* strip = nullptr;
    for (int64_t cb = 0; cb < ncb; ++cb) {
      const int64_t c0 = cb * Cb, cl = std::min(Cb, Cg - c0);
      t.accum = cb > 0;
      t.relu = p.relu && cb == ncb - 1;
      if (g_hi > g_lo) {
        strip = workspace(5, size_t((g_hi - g_lo) * Wp * cl));
        for (int64_t gr = g_lo; gr < g_hi; ++gr) {
          const float* src = x + gr * p.W * C + g * Cg + c0;
          float* d = strip + (gr - g_lo) * Wp * cl;
          std::memset(d, 0, sizeof(float) * p.pad_l * cl);
          if (cl == C) {
            std::memcpy(d + p.pad_l * cl, src, sizeof(float) * p.W * cl);
          } else {
            for (int64_t i = 0; i < p.W; ++i)
              std::memcpy(d + (p.pad_l + i) * cl, src + i * C, sizeof(float) * cl);
          }
          std::memset(d + (p.pad_l + p.W) * cl, 0, sizeof(float) * p.pad_r * cl);
        }
      }
      for (int64_t kb = kb0; kb < kb1; ++kb)
      for (int64_t row = row0; row < row1; ++row) {
        const int64_t n = row / p.P, oh = row % p.P;
        const int64_t ih0 = oh * p.stride_h - p.pad_t;
        int64_t r_lo = 0, r_hi = p.R;
        while (r_lo < p.R && ih0 + r_lo * p.dil_h < 0) ++r_lo;
        while (r_hi > r_lo && ih0 + (r_hi - 1) * p.dil_h >= p.H) --r_hi;
        const int nr = int(r_hi - r_lo);
        t.nr = nr;
        t.w = wp + ((g * nkb + kb) * RSC + r_lo * p.S * Cg + c0) * KB;
        t.bias = bp + (g * nkb + kb) * KB;
        t.kvalid = int(std::min<int64_t>(KB, Kg - kb * KB));
        for (int64_t tile = 0; tile < ntile; ++tile) {
          const int64_t ow0 = tile * WB, wb = std::min<int64_t>(WB, p.Q - ow0);
          const int64_t iw0 = ow0 * p.stride_w - p.pad_l;
          const int64_t span = (wb - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1;
          if (strip) {  // read the zero-padded strip in place
            const bool sfold = one_pass && p.dil_w == 1;  // the strip holds only cl channels
            t.x = strip + ((n * p.H + ih0 + r_lo * p.dil_h - g_lo) * Wp + iw0 + p.pad_l) * cl;
            t.xs = p.stride_w * cl;
            t.rs = p.dil_h * Wp * cl;
            t.nsg = sfold ? 1 : int(p.S);
            t.ls = sfold ? 0 : p.dil_w * cl;
            t.L = int(sfold ? p.S * cl : cl);
          } else if (iw0 >= 0 && iw0 + span <= p.W) {  // interior: read the input in place
            t.x = x + ((n * p.H + ih0 + r_lo * p.dil_h) * p.W + iw0) * C + g * Cg + c0;
            t.xs = p.stride_w * C;
            t.rs = p.dil_h * p.W * C;
            t.nsg = fold ? 1 : int(p.S);
            t.ls = fold ? 0 : p.dil_w * C;
            t.L = int(fold ? p.S * Cg : cl);
          } else {  // touches the left/right padding: copy the window into a zero-padded buffer
            if (!buf) buf = workspace(2, size_t(p.R * span_max * Cb));
            // In-range pixels [i_lo, i_hi) of the window; the rest are zeros.
            const int64_t i_lo = std::min(span, std::max<int64_t>(0, -iw0));
            const int64_t i_hi = std::max(i_lo, std::min(span, p.W - iw0));
            for (int r = 0; r < nr; ++r) {
              const float* src =
                  x + ((n * p.H + ih0 + (r_lo + r) * p.dil_h) * p.W) * C + g * Cg + c0;
              float* d = buf + r * span * cl;
              std::memset(d, 0, sizeof(float) * i_lo * cl);
              if (cl == C) {  // whole pixels: one contiguous run (first layers: C = 3)
                std::memcpy(d + i_lo * cl, src + (iw0 + i_lo) * C,
                            sizeof(float) * (i_hi - i_lo) * cl);
              } else {
                for (int64_t i = i_lo; i < i_hi; ++i)
                  std::memcpy(d + i * cl, src + (iw0 + i) * C, sizeof(float) * cl);
              }
              std::memset(d + i_hi * cl, 0, sizeof(float) * (span - i_hi) * cl);
            }
            const bool bfold = one_pass && p.dil_w == 1;  // the buffer holds only cl channels
            t.x = buf;
            t.xs = p.stride_w * cl;
            t.rs = span * cl;
            t.nsg = bfold ? 1 : int(p.S);
            t.ls = bfold ? 0 : p.dil_w * cl;
            t.L = int(bfold ? p.S * cl : cl);
          }
          t.y = y + ((n * p.P + oh) * p.Q + ow0) * K + g * Kg + kb * KB;
          pick<NV>(int(wb))(t);
        }
      }
    }
  }
}

// 1x1, no padding: a GEMM (pixels x Cg) times (Cg x Kg) per group, with the output pixels of
// the whole batch flattened so that tiles never straddle a short row (7x7 layers: 14-pixel
// tiles instead of 7).
//
// The microkernel reads a tile's 14 pixels at one stride. When that stride is a multiple of
// 2 KB (stride-1 layers with C >= 512: 1024-2048 channel ResNet layers) all 14 pixel streams
// fall in one or two L1 sets and evict each other on every step; with a spatial stride the
// pixels of a tile are not even at one stride. Those layers gather a chunk of tiles (one
// channel block) into a buffer with a padded pixel stride, once per chunk for all the K
// blocks of the task, so tasks then run (chunk, range of K blocks) instead of (chunk, K
// block).
// SWAPPED: w holds the weights as wk[k][c] (see pack_swapped; groups == 1, no bias).
// packed: pack()'s output for p (not with SWAPPED), or null to pack now.
template <int NV, bool SWAPPED = false>
void gemm1x1(const ConvParams& p, const float* x, const float* w, const float* b, float* y,
             const float* packed = nullptr) {
  constexpr int KB = NV * V, WB = NV == 2 ? WB_2 : WB_1;
  const int64_t Cg = p.Cg(), Kg = p.Kg(), C = p.C, K = p.K, G = p.groups;
  const int64_t nkb = (Kg + KB - 1) / KB;
  const float *wp, *bp;
  if constexpr (SWAPPED) {
    float* wq = workspace(0, size_t(G * nkb * Cg * KB));
    float* bq = workspace(1, size_t(G * nkb * KB));
    pack_swapped(p, w, KB, wq, bq);
    wp = wq, bp = bq;
  } else {
    std::tie(wp, bp) = packed_or_pack(p, w, b, packed, KB);
  }

  const int64_t Cb = channel_block(Cg), ncb = (Cg + Cb - 1) / Cb;
  const int64_t M = p.N * p.P * p.Q, ntile = (M + WB - 1) / WB;
  const bool strided = p.stride_h != 1 || p.stride_w != 1;
  constexpr int64_t kTilesPerTask = 8;
  const int64_t nchunk = (ntile + kTilesPerTask - 1) / kTilesPerTask;
  // Strided layers split the K blocks only as far as needed for ~16 tasks. Aliasing gathers
  // paid on 1024-2048 channel layers (1024->256 and 1024->512 at 14x14, batch 16: 1.15-1.2x;
  // batch 1 at 7x7 and 14x14: 1.05-1.15x), not at 512 channels (1.25x slower at 28x28), and
  // only when each task reuses its gathered chunk for at least 4 K blocks: at batch 1 that
  // leaves 4-8 tasks (kept >= 4 so that two threads still share them evenly).
  const int64_t units = nchunk * G;
  const int64_t nkc_16 = std::min<int64_t>(nkb, (16 + units - 1) / units);
  const int64_t nkc_alias = std::min<int64_t>(nkb / 4, (16 + units - 1) / units);
  const bool alias = !strided && C % 1024 == 0 && nkc_alias >= 1 && units * nkc_alias >= 4;
  const bool gather = strided || alias;
  const int64_t nkc = strided ? nkc_16 : alias ? nkc_alias : nkb;
  const Blocks kchunks(nkb, (nkb + nkc - 1) / nkc);
  const int64_t tasks = units * kchunks.count;
  const int64_t gs = Cb + 16;  // gathered pixel stride: 64 bytes past a multiple of 2 KB
  // An output far beyond the caches, written in one pass (one channel block), goes around
  // them: non-temporal stores skip the read of every line before it is written. Batch 16,
  // 1 thread, alternating in one process: dx of 256->64 at 56x56 (a 51 MB dx) 53 -> 73
  // GFLOP/s, of 512->128 at 28x28 56 -> 66; forward 128->512 at 28x28 95 -> 105.
  // Kg % 16: every K block of every group starts on a vector boundary (a misaligned
  // non-temporal store faults).
  const bool stream = ncb == 1 && K % 16 == 0 && Kg % 16 == 0 &&
                      reinterpret_cast<uintptr_t>(y) % 64 == 0 &&
                      M * K * int64_t(sizeof(float)) >= kStreamBytes;
  // Tasks go to whichever thread is free (see for_dynamic in threads.h).
#pragma omp parallel for num_threads(threads_for_work(double(p.N) * p.P * p.Q * p.K * p.R * p.S * p.Cg())) schedule(dynamic, 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t nkc_ = kchunks.count;
    const int64_t kc = task % nkc_, g = (task / nkc_) % G, chunk = task / (nkc_ * G);
    const int64_t kb0 = kchunks.start(kc), kb1 = kchunks.start(kc + 1);
    const int64_t tile0 = chunk * kTilesPerTask, tile1 = std::min(ntile, tile0 + kTilesPerTask);
    const int64_t m_lo = tile0 * WB, m_hi = std::min(M, tile1 * WB);
    float* buf = gather ? workspace(2, size_t(kTilesPerTask * WB * gs)) : nullptr;
    Tile t;
    t.stream = stream;
    t.xs = gather ? gs : p.stride_w * C;
    t.rs = 0;
    t.ls = 0;
    t.nr = 1;
    t.nsg = 1;
    t.wr = 0;
    t.wsg = 0;
    t.ys = K;
    for (int64_t cb = 0; cb < ncb; ++cb) {
      const int64_t c0 = cb * Cb, cl = std::min(Cb, Cg - c0);
      if (gather) {
        for (int64_t m = m_lo; m < m_hi; ++m) {
          const int64_t n = m / (p.P * p.Q), oh = m / p.Q % p.P, ow = m % p.Q;
          const float* src =
              x + ((n * p.H + oh * p.stride_h) * p.W + ow * p.stride_w) * C + g * Cg + c0;
          std::memcpy(buf + (m - m_lo) * gs, src, sizeof(float) * cl);
        }
      }
      t.L = int(cl);
      t.accum = cb > 0;
      t.relu = p.relu && cb == ncb - 1;
      for (int64_t kb = kb0; kb < kb1; ++kb) {
        t.w = wp + ((g * nkb + kb) * Cg + c0) * KB;
        t.bias = bp + (g * nkb + kb) * KB;
        t.kvalid = int(std::min<int64_t>(KB, Kg - kb * KB));
        for (int64_t tile = tile0; tile < tile1; ++tile) {
          const int64_t m0 = tile * WB, wb = std::min<int64_t>(WB, M - m0);
          t.x = gather ? buf + (m0 - m_lo) * gs : x + m0 * C + g * Cg + c0;
          t.y = y + m0 * K + g * Kg + kb * KB;
          // The next tile (the hardware prefetcher misses these 14 streams); past the chunk's
          // end a prefetch is harmless.
          t.pf = t.x + WB * t.xs;
          pick<NV, true>(int(wb))(t);
        }
      }
    }
    if (stream) stream_fence();
  }
}

}  // namespace

void conv2d_fwd_direct_packed(const ConvParams& p, const float* x, const float* w,
                              const float* b, const float* packed, float* y) {
  if (direct_nv(p) == 1)
    direct<1>(p, x, w, b, y, packed);
  else
    direct<2>(p, x, w, b, y, packed);
}

void conv2d_fwd_gemm1x1_packed(const ConvParams& p, const float* x, const float* w,
                               const float* b, const float* packed, float* y) {
  if (direct_nv(p) == 1)
    gemm1x1<1>(p, x, w, b, y, packed);
  else
    gemm1x1<2>(p, x, w, b, y, packed);
}

// direct and gemm1x1 share the layout (a 1x1 layer's pack is the same for both).
void conv2d_fwd_direct_pack(const ConvParams& p, const float* w, const float* b, float* out,
                            int64_t* floats) {
  const int KB = direct_nv(p) * V;
  *floats = packed_weight_floats(p, KB) + packed_bias_floats(p, KB);
  if (out) pack(p, w, b, KB, out, out + packed_weight_floats(p, KB));
}

void conv2d_fwd_gemm1x1_pack(const ConvParams& p, const float* w, const float* b, float* out,
                             int64_t* floats) {
  conv2d_fwd_direct_pack(p, w, b, out, floats);
}

void conv2d_fwd_direct(const ConvParams& p, const float* x, const float* w, const float* b,
                       float* y) {
  conv2d_fwd_direct_packed(p, x, w, b, nullptr, y);
}

void conv2d_fwd_gemm1x1(const ConvParams& p, const float* x, const float* w, const float* b,
                        float* y) {
  conv2d_fwd_gemm1x1_packed(p, x, w, b, nullptr, y);
}

void conv2d_fwd_gemm1x1_swapped(const ConvParams& p, const float* x, const float* wk, float* y) {
  if (p.K <= V)
    gemm1x1<1, true>(p, x, wk, nullptr, y);
  else
    gemm1x1<2, true>(p, x, wk, nullptr, y);
}

}  // namespace FC_ISA_NS
}  // namespace fc
