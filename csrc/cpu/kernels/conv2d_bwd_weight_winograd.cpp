// Convolution backward-weight by Winograd F(4x4, 3x3) (3x3 filters) and F(4x4, 5x5) (5x5
// filters); stride 1, dilation 1, groups 1.
// The forward is y = A^T [(G g G^T) . (B^T d B)] A per MxM output tile; it is linear in the
// filter g, and its transpose gives the filter gradient of one tile:
//   dw = G^T [(A dy A^T) . (B^T d B)] G
// with d the tile's TxT input patch (T = M + R - 1: 6 for F43, 8 for F45) and dy its
// MxM output gradient. Summed over tiles, the element-wise products become, for each of the
// T^2 positions, a (C x tiles) times (tiles x K) GEMM: T^2 multiply-adds per (tile, c, k)
// instead of the direct sum's M^2 R^2 (F43 36 for 144, F45 64 for 400).
//
// Tasks are (channel block, K block, chunk of tiles). A task transforms a block of up to TB
// tiles' x patches (its channels) and dy tiles (its K block), then runs the T^2 GEMMs into
// its own T^2 x CB x KB sums. Chunks are fixed by the layer's shape, not the thread count; a
// second pass adds the chunks' sums in chunk order and transforms back, so every dw element
// comes out of the same arithmetic whatever the thread count.
//
// Accuracy: the transforms' constants (A up to 8, B 5 or 21/4, G^T 32/45) amplify float32
// rounding as in the forward Winograd: ~1e-6..1e-5 of max|dw| on ResNet-like 3x3 layers,
// 3e-6..1e-5 by F45 on GoogLeNet's 5x5 layers (against 3e-7..3e-6 for the direct sums; see
// the tests). FASTCONV_WINOGRAD=0 or algo="cvec" turns it off.
#include <algorithm>
#include <utility>

#include "conv2d_bwd_simd.h"
#include "cpu/conv2d_backward.h"
#include "cpu/memory.h"

namespace fc {
namespace FC_ISA_NS {
#include "winograd_bt.h"
namespace {

using namespace bwd;

// NV K vectors per register tile (4 on AVX-512, 2 when K fits two vectors, 3 for F45 with K a
// multiple of 48; 2 on AVX2), so KB = NV * VL output channels per block; MR channels per
// register tile (MR x NV <= 24).
constexpr int NV0 = kRegs == 32 ? 4 : 2;
template <int NV>
constexpr int MR = kRegs == 32 && NV == 2 ? 12 : kRegs == 32 && NV == 3 ? 8 : 6;
constexpr int64_t CB = 64;               // channels per block
constexpr int64_t TB = 32;               // most tiles per transform block
// The T^2 positions' rows of a transform block lie this many floats apart past a whole
// number of cache lines: with a power-of-two stride (32 tiles x 32 K = 4 KiB) every store of
// one tile's transform fell into the same L1 set.
constexpr int64_t kSkew = 16;

// The transposes of the forward's transforms (conv2d_fwd_winograd.cpp), M outputs per tile
// side from an R-tap filter, T = M + R - 1 points; B^T d is winograd_bt.h's, as in the forward.
struct F43 {
  static constexpr int M = 4, R = 3, T = M + R - 1;
  // u = A q: 4 output gradients to 6 (A^T of the forward's output transform).
  static void a_1d(const vf* q, vf* u) {
    const vf e = q[0] + q[2], o = q[1] + q[3];
    const vf e4 = q[0] + 4.0f * q[2], o8 = 2.0f * q[1] + 8.0f * q[3];
    u[0] = q[0];
    u[1] = e + o;
    u[2] = e - o;
    u[3] = e4 + o8;
    u[4] = e4 - o8;
    u[5] = q[3];
  }
  // o = G^T m: 6 sums to 3 filter taps (G of the forward's weight transform).
  static void gt_1d(const vf* m, vf* o) {
    const vf a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
    o[0] = m[0] * 0.25f - a * (1.0f / 6.0f) + c * (1.0f / 24.0f);
    o[1] = d * (1.0f / 12.0f) - b * (1.0f / 6.0f);
    o[2] = (c - a) * (1.0f / 6.0f) + m[5];
  }
};

// F(4x4, 5x5): 8x8 tiles on the points 0, 1, -1, 2, -2, 1/2, -1/2 and infinity (the order of
// bt8_1d's rows), 64 multiply-adds per 16 outputs (F(2x2, 5x5), which it replaced: 36 per 4).
struct F45 {
  static constexpr int M = 4, R = 5, T = M + R - 1;
  // u = A q: row i of A is [1, a, a^2, a^3] at point a (infinity: [0 0 0 1]).
  static void a_1d(const vf* q, vf* u) {
    const vf e = q[0] + q[2], o = q[1] + q[3];
    const vf e4 = q[0] + 4.0f * q[2], o8 = 2.0f * q[1] + 8.0f * q[3];
    const vf eh = q[0] + 0.25f * q[2], oh = 0.5f * q[1] + 0.125f * q[3];
    u[0] = q[0];
    u[1] = e + o;
    u[2] = e - o;
    u[3] = e4 + o8;
    u[4] = e4 - o8;
    u[5] = eh + oh;
    u[6] = eh - oh;
    u[7] = q[3];
  }
  // o = G^T m, G's rows f_a [1, a, a^2, a^3, a^4] (f = 1, -2/9, -2/9, 1/90, 1/90, 32/45,
  // 32/45 at the points above) and [0 0 0 0 1].
  static void gt_1d(const vf* m, vf* o) {
    const vf a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
    const vf e = m[5] + m[6], f = m[5] - m[6];
    const vf a9 = a * (-2.0f / 9.0f), b9 = b * (-2.0f / 9.0f);
    o[0] = m[0] + a9 + c * (1.0f / 90.0f) + e * (32.0f / 45.0f);
    o[1] = b9 + d * (1.0f / 45.0f) + f * (16.0f / 45.0f);
    o[2] = a9 + c * (2.0f / 45.0f) + e * (8.0f / 45.0f);
    o[3] = b9 + d * (4.0f / 45.0f) + f * (4.0f / 45.0f);
    o[4] = a9 + c * (8.0f / 45.0f) + e * (2.0f / 45.0f) + m[7];
  }
};

// Tiles of M x M outputs, numbered (image, tile row, tile column); next() steps without a
// division per tile.
struct Geo {
  int64_t M, TH, TW, ntiles;
  struct Iter {
    int64_t n, th, tw;
    const Geo* g;
    void next() {
      if (++tw == g->TW) {
        tw = 0;
        if (++th == g->TH) th = 0, ++n;
      }
    }
  };
  Iter at(int64_t t) const { return Iter{t / (TH * TW), t / TW % TH, t % TW, this}; }
};

// V[e][j][c - c0] = (B^T d B)[e] for tile j, channels [c0, c0 + cn); position e's rows start
// es floats apart. Pixels outside x load zero lanes (a masked load of no lanes touches no
// memory), so there are no branches.
template <int T>
void transform_x(const ConvParams& p, const Geo& g, const float* x, int64_t t0, int64_t tb,
                 int64_t c0, int64_t cn, int64_t vs, int64_t es, float* V) {
  Geo::Iter it = g.at(t0);
  for (int64_t j = 0; j < tb; ++j, it.next()) {
    const int64_t n = it.n, oh0 = it.th * g.M, ow0 = it.tw * g.M;
    const int64_t ih0 = oh0 - p.pad_t, iw0 = ow0 - p.pad_l;
    bool rok[T], cok[T];
    int64_t roff[T], coff[T];
    for (int a = 0; a < T; ++a) {
      rok[a] = ih0 + a >= 0 && ih0 + a < p.H;
      roff[a] = rok[a] ? ((n * p.H + ih0 + a) * p.W) * p.C : 0;
      cok[a] = iw0 + a >= 0 && iw0 + a < p.W;
      coff[a] = cok[a] ? (iw0 + a) * p.C : 0;
    }
    for (int64_t cl = 0; cl < cn; cl += VL) {
      const int m = int(std::min<int64_t>(VL, cn - cl));
      const float* xc = x + c0 + cl;
      vf t[T][T];
      for (int b = 0; b < T; ++b) {
        vf col[T], r[T];
        for (int a = 0; a < T; ++a)
          col[a] = vload_n(xc + roff[a] + coff[b], rok[a] && cok[b] ? m : 0);
        winograd::bt<T>(col, r);
        for (int a = 0; a < T; ++a) t[a][b] = r[a];
      }
      for (int a = 0; a < T; ++a) {
        vf r[T];
        winograd::bt<T>(t[a], r);
        for (int b = 0; b < T; ++b) vstore_n(V + (a * T + b) * es + j * vs + cl, r[b], m);
      }
    }
  }
}

// U[e][j][k - k0] = (A dy A^T)[e] for tile j, K [k0, k0 + kn), zero past kn up to KB;
// position e's rows start es floats apart.
template <class F, int NV>
void transform_dy(const ConvParams& p, const Geo& g, const float* dy, int64_t t0, int64_t tb,
                  int64_t k0, int64_t kn, int64_t es, float* U) {
  constexpr int M = F::M, T = F::T, KB = NV * VL;
  Geo::Iter it = g.at(t0);
  for (int64_t j = 0; j < tb; ++j, it.next()) {
    const int64_t n = it.n, oh0 = it.th * M, ow0 = it.tw * M;
    bool rok[M], cok[M];
    int64_t roff[M], coff[M];
    for (int a = 0; a < M; ++a) {
      rok[a] = oh0 + a < p.P;
      roff[a] = rok[a] ? ((n * p.P + oh0 + a) * p.Q) * p.K : 0;
      cok[a] = ow0 + a < p.Q;
      coff[a] = cok[a] ? (ow0 + a) * p.K : 0;
    }
    for (int64_t kl = 0; kl < KB; kl += VL) {
      const int m = int(std::clamp<int64_t>(kn - kl, 0, VL));
      const float* dk = dy + k0 + kl;
      vf t[T][M];
      for (int b = 0; b < M; ++b) {
        vf col[M], u[T];
        for (int a = 0; a < M; ++a)
          col[a] = vload_n(dk + roff[a] + coff[b], rok[a] && cok[b] ? m : 0);
        F::a_1d(col, u);
        for (int a = 0; a < T; ++a) t[a][b] = u[a];
      }
      for (int a = 0; a < T; ++a) {
        vf u[T];
        F::a_1d(t[a], u);
        for (int b = 0; b < T; ++b) vstore(U + (a * T + b) * es + j * KB + kl, u[b]);
      }
    }
  }
}

// M[c][0..KB) += sum over j < tb of V[j][c] * U[j][0..KB), for MR rows c (one position);
// FIRST: M = that sum (a task's first block: no zeroing pass over its sums).
template <int R, int NV, bool FIRST>
void gemm_rows(const float* __restrict V, int64_t vs, const float* __restrict U, int64_t tb,
               float* __restrict M) {
  constexpr int KB = NV * VL;
  vf acc[R][NV];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = FIRST ? vf{} : vload(M + i * KB + v * VL);
  for (int64_t j = 0; j < tb; ++j) {
    vf d[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) d[v] = vload(U + j * KB + v * VL);
    bcast_fma<R, NV>(acc, V + j * vs, 1, d);
  }
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) vstore(M + i * KB + v * VL, acc[i][v]);
}

using GemmFn = void (*)(const float*, int64_t, const float*, int64_t, float*);
// Register tile for r (1 <= r <= MR<NV>) channel rows.
template <int NV, int... I>
GemmFn gemm_for(int r, bool first, std::integer_sequence<int, I...>) {
  static const GemmFn table[] = {&gemm_rows<I + 1, NV, false>...};
  static const GemmFn table0[] = {&gemm_rows<I + 1, NV, true>...};
  return first ? table0[r - 1] : table[r - 1];
}

template <class F, int NV>
void run(const ConvParams& p, const float* dy, const float* x, float* dw) {
  constexpr int M = F::M, R = F::R, T = F::T, E = T * T, MRv = MR<NV>;
  constexpr int64_t KB = NV * VL;
  constexpr auto rows = std::make_integer_sequence<int, MRv>();
  const int64_t C = p.C, K = p.K, TH = (p.P + M - 1) / M, TW = (p.Q + M - 1) / M;
  const Geo g{M, TH, TW, p.N * TH * TW};
  const int64_t ncb = (C + CB - 1) / CB, nkb = (K + KB - 1) / KB, blocks = ncb * nkb;
  int64_t tbs, nck;
  if constexpr (T == 6) {
    // Tiles per block: TB, or, where that makes 6 or 7 blocks, 8 smaller ones that split 4:4
    // over 2 threads (measured when 5x5 ran F(2x2, 5x5): a 28x28 image's 196 2x2 tiles, 8
    // blocks of 25, not 7 of 32 split 4:3; 1.1x on 2 threads). Not below: 100 tiles in 8 blocks of 13 ran at 0.8x 4 blocks of 32.
    tbs = g.ntiles > 5 * TB && g.ntiles < 8 * TB ? (g.ntiles + 7) / 8 : TB;
    // About 8 tasks, from the shape alone: chunks of tiles when there are few (c, k) blocks,
    // but at least ~96 tiles a chunk: each chunk's 36 x C x K sums are written out and read
    // back by the reduction, which at 8 chunks of 25 tiles outweighed the chunks' GEMMs
    // (1 thread, 2 chunks instead of 8: Inception 5x5 at batch 1 186 -> 162 us, ResNet-50's
    // 56x56x64 3x3 at batch 1 3.5 -> 2.0 ms; at batch 1 both run dw on one thread beside dx).
    const int64_t ntb = (g.ntiles + tbs - 1) / tbs;
    nck = std::clamp<int64_t>(std::min((8 + blocks - 1) / blocks, g.ntiles / 96), 1, ntb);
  } else {
    // 8x8 tiles: blocks of even size (a 28x28 image's 49 4x4 tiles: 2 of 25, not 32 + 17;
    // 16 or 24 tiles a block were no faster), chunks of at least 128 tiles: a chunk's 64 x C
    // x K sums are written per block and read back by the reduction (1 thread, at least 48
    // -> 128 tiles a chunk: 14x14 32->128 at batch 16 5.5 -> 4.2 ms, 28x28 64->128 at batch
    // 4 9.3 -> 6.1 ms; 192 was no faster and leaves fewer tasks for 2 threads).
    const int64_t nb = (g.ntiles + TB - 1) / TB;
    tbs = (g.ntiles + nb - 1) / nb;
    nck = std::clamp<int64_t>(std::min((8 + blocks - 1) / blocks, g.ntiles / 128), 1, nb);
  }
  const int64_t ntb = (g.ntiles + tbs - 1) / tbs;
  const int64_t mcb = std::min(CB, C);  // channel rows of a task's sums
  const int64_t vs = (mcb + VL - 1) / VL * VL;  // floats per transformed x row
  const int64_t ves = TB * vs + kSkew, ues = TB * KB + kSkew;  // floats per position
  // Channel rows per GEMM call: as even as the register tile allows (16 = 8 + 8, not 12 + 4).
  const int64_t ncalls = (mcb + MRv - 1) / MRv, rw = (mcb + ncalls - 1) / ncalls;
  const int64_t msize = E * mcb * KB;  // one task's sums
  float* part = workspace(48, size_t(nck * blocks * msize));
  const int nt = threads_for(conv_macs(p));

  // One parallel region for both passes (a region start wakes the workers): the sums, then,
  // after the loop's barrier, their reduction.
  parallel_region(nt, [&] {
    for_dynamic(nck * blocks, [&](int64_t task) {
      const int64_t chunk = task / blocks, blk = task % blocks;
      const int64_t c0 = blk / nkb * CB, k0 = blk % nkb * KB;
      const int64_t cn = std::min(CB, C - c0), kn = std::min(KB, K - k0);
      float* V = workspace(3, size_t(E * ves));
      float* U = workspace(4, size_t(E * ues));
      float* Ms = part + task * msize;
      // Every chunk has a block (nck <= ntb); its first one writes the sums' rows < cn, all
      // the reduction reads.
      const int64_t b0 = chunk * ntb / nck;
      for (int64_t b = b0; b < (chunk + 1) * ntb / nck; ++b) {
        const int64_t t0 = b * tbs, tb = std::min(tbs, g.ntiles - t0);
        transform_x<T>(p, g, x, t0, tb, c0, cn, vs, ves, V);
        transform_dy<F, NV>(p, g, dy, t0, tb, k0, kn, ues, U);
        for (int e = 0; e < E; ++e)
          for (int64_t i0 = 0; i0 < cn; i0 += rw)
            gemm_for<NV>(int(std::min(rw, cn - i0)), b == b0, rows)(
                V + e * ves + i0, vs, U + e * ues, tb, Ms + (e * mcb + i0) * KB);
      }
    });

    // Sum the chunks in order and transform back: dw = G^T M G, one (c, K vector) per step.
    const int64_t RSstride = C * K;
    for_static(blocks * mcb, [&](int64_t bc) {
      const int64_t blk = bc / mcb, c = bc % mcb;
      const int64_t c0 = blk / nkb * CB, k0 = blk % nkb * KB;
      const int64_t kn = std::min(KB, K - k0);
      if (c0 + c >= C) return;
      for (int64_t kl = 0; kl < kn; kl += VL) {
        vf m[T][T], t[T][R];
        // Chunks outer, positions inner: T x T independent sums, not a chain per position.
        const float* src = part + blk * msize + c * KB + kl;
        for (int e = 0; e < E; ++e) m[e / T][e % T] = vload(src + e * mcb * KB);
        for (int64_t ch = 1; ch < nck; ++ch)
          for (int e = 0; e < E; ++e)
            m[e / T][e % T] += vload(src + ch * blocks * msize + e * mcb * KB);
        for (int a = 0; a < T; ++a) F::gt_1d(m[a], t[a]);
        for (int s = 0; s < R; ++s) {
          vf col[T], o[R];
          for (int a = 0; a < T; ++a) col[a] = t[a][s];
          F::gt_1d(col, o);
          const int w = int(std::min<int64_t>(VL, kn - kl));
          for (int r = 0; r < R; ++r)
            vstore_n(dw + (r * R + s) * RSstride + (c0 + c) * K + k0 + kl, o[r], w);
        }
      }
    });
  });
}

}  // namespace

void conv2d_bwd_weight_winograd(const ConvParams& p, const float* dy, const float* x,
                                float* dw) {
  // Two K vectors when K fits them: four would leave half of every register tile empty.
  const bool narrow = kRegs == 32 && p.K <= 2 * VL;
  // F45 with K a multiple of 3 vectors but not of 4 (GoogLeNet's 48 and 96): blocks of 3
  // vectors, not 4 with a quarter of the GEMMs on zeros.
  const bool k3 = kRegs == 32 && !narrow && p.K % (3 * VL) == 0 && p.K % (4 * VL) != 0;
  if (p.R == 5 && k3) run<F45, 3>(p, dy, x, dw);
  else if (p.R == 5) narrow ? run<F45, 2>(p, dy, x, dw) : run<F45, NV0>(p, dy, x, dw);
  else narrow ? run<F43, 2>(p, dy, x, dw) : run<F43, NV0>(p, dy, x, dw);
}

}  // namespace FC_ISA_NS
}  // namespace fc
