// Convolution forward by Winograd F(4x4, 3x3) ("winograd" variant) and F(4x4, 5x5)
// ("winograd5"); stride 1, dilation 1, groups 1. Each 4x4 output tile is computed from a TxT
// input patch (T = 6 for 3x3 filters, 8 for 5x5) with T^2 multiplies per (c, k) instead of
// 16 R^2 (36 against 144 for a 3x3 filter, 64 against 400 for a 5x5 one): transform the
// weights (U = G g G^T, per call) and each input patch (V = B^T d B), multiply element-wise
// and sum over channels -- for each of the T^2 positions a (tiles x C) times (C x K) GEMM, run
// by the direct convolution's register-blocked broadcast-FMA steps (all positions in one
// call, gemm_positions) -- then transform back (Y = A^T M A) with the bias and ReLU. One
// parallel region per call (each region start wakes the workers) runs the weight transform,
// then the blocks of tiles. The interpolation points are 0, +-1, +-2 and infinity, and for
// 5x5 also +-1/2 (winograd_bt.h).
// The transforms run on vectors of channels (NHWC keeps them contiguous).
//
// Working memory per thread is one block of tiles (T^2 x tiles x C inputs, T^2 x tiles x K
// products), never the whole layer. Each output element is produced by one task with a fixed
// arithmetic order, so the result does not depend on the thread count.
//
// Accuracy: the transforms' constants (up to 8 in A, 5.25 in B, 1/24 and 1/90 in G) amplify
// float32 rounding; the error is a few times 1e-6..1e-5 relative to max|y| (see the tests;
// F(4x4, 5x5) on a 16-channel 28x28 layer ~4e-6, about 1.5x the F(2x2, 5x5) it replaced),
// against ~1e-7 for the direct kernels. FASTCONV_WINOGRAD=0 or algo='direct' turns both off.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "cpu/conv2d.h"
#include "cpu/memory.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {
#include "conv2d_fwd_ukernel.h"
#include "winograd_bt.h"
namespace {

inline vf load(const float* p, vf) { return loadu(p); }
inline float load(const float* p, float) { return *p; }
inline void store(float* p, vf v) { storeu(p, v); }
inline void store(float* p, float v) { *p = v; }

// F(4x4, 3x3): M outputs per tile side from an R-tap filter, 6 = M + R - 1 inputs.
struct F43 {
  static constexpr int M = 4, R = 3, T = 6;
  // u = G g: a column of 3 filter taps to 6 transformed values.
  template <class X>
  static void g_1d(const X* g, X* u) {
    u[0] = g[0] * 0.25f;
    u[1] = (g[0] + g[1] + g[2]) * (-1.0f / 6.0f);
    u[2] = (g[0] - g[1] + g[2]) * (-1.0f / 6.0f);
    u[3] = g[0] * (1.0f / 24.0f) + g[1] * (1.0f / 12.0f) + g[2] * (1.0f / 6.0f);
    u[4] = g[0] * (1.0f / 24.0f) - g[1] * (1.0f / 12.0f) + g[2] * (1.0f / 6.0f);
    u[5] = g[2];
  }
  // o = A^T m: 6 products to 4 outputs.
  template <class X>
  static void at_1d(const X* m, X* o) {
    const X a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
    o[0] = m[0] + a + c;
    o[1] = b + 2.0f * d;
    o[2] = a + 4.0f * c;
    o[3] = b + 8.0f * d + m[5];
  }
};

// F(4x4, 5x5): 8x8 input patches, 64 products per (c, k) for 16 outputs (F(2x2, 5x5): 36
// for 4, with 4x the tiles' transforms). The points 0, 1, -1, 2, -2, 1/2, -1/2 and infinity
// (winograd::bt8_1d's B^T). G's rows are f_a [1, a, a^2, a^3, a^4] (f = 1, -2/9, -2/9, 1/90,
// 1/90, 32/45, 32/45 at the finite points, in B^T's order) and [0 0 0 0 1]; A^T's rows a^i
// (i = 0..3) at the finite points and [0 0 0 1] at infinity.
struct F45 {
  static constexpr int M = 4, R = 5, T = 8;
  template <class X>
  static void g_1d(const X* g, X* u) {
    const X e = g[0] + g[2] + g[4], o = g[1] + g[3];
    const X e2 = g[0] + 4.0f * g[2] + 16.0f * g[4], o2 = 2.0f * g[1] + 8.0f * g[3];
    const X e3 = 16.0f * g[0] + 4.0f * g[2] + g[4], o3 = 8.0f * g[1] + 2.0f * g[3];
    u[0] = g[0];
    u[1] = (e + o) * (-2.0f / 9.0f);
    u[2] = (e - o) * (-2.0f / 9.0f);
    u[3] = (e2 + o2) * (1.0f / 90.0f);
    u[4] = (e2 - o2) * (1.0f / 90.0f);
    u[5] = (e3 + o3) * (2.0f / 45.0f);
    u[6] = (e3 - o3) * (2.0f / 45.0f);
    u[7] = g[4];
  }
  template <class X>
  static void at_1d(const X* m, X* o) {
    const X a1 = m[1] + m[2], b1 = m[1] - m[2], a2 = m[3] + m[4], b2 = m[3] - m[4];
    const X a3 = m[5] + m[6], b3 = m[5] - m[6];
    o[0] = m[0] + a1 + a2 + a3;
    o[1] = b1 + 2.0f * b2 + 0.5f * b3;
    o[2] = a1 + 4.0f * a2 + 0.25f * a3;
    o[3] = b1 + 8.0f * b2 + 0.125f * b3 + m[7];
  }
};

// The T*T positions' blocks lie a whole number of cache lines plus this many floats apart, so
// that one tile's T*T transformed values do not crowd into a few L1 sets (they did at strides
// that are multiples of 1 KiB).
constexpr int64_t kSkew = 16;

// Floats from one position's transformed weights to the next's (skewed as above: the weight
// transform writes all T*T positions of a (c, k) vector at once).
inline int64_t u_stride(int64_t nkb, int64_t C, int64_t KB) { return nkb * C * KB + kSkew; }

// U[T*T][kb][c][KB] = G g G^T for every (c, k), zero padded past K (KB = NVW vectors);
// positions u_stride apart.
template <class F, int NVW>
void transform_weights(const ConvParams& p, const float* w, float* U, int64_t nkb) {
  constexpr int R = F::R, T = F::T, KB = NVW * V;
  const int64_t C = p.C, K = p.K, ue = u_stride(nkb, C, KB);
  // K blocks outer, channels inner: each of the T*T output streams is written sequentially.
  // Split over the team of run's parallel region (one fork per call, not two).
  for_static(nkb * C, [&](int64_t kbc) {
    const int64_t kb = kbc / C, c = kbc % C;
    for (int kk = 0; kk < KB; kk += V) {
      const int64_t k0 = kb * KB + kk;
      vf t[T][R], u[T];
      for (int s = 0; s < R; ++s) {  // one filter column at a time (fewer live registers)
        vf col[R], out[T];
        for (int r = 0; r < R; ++r) {
          const float* src = w + ((r * R + s) * C + c) * K + k0;
          if (k0 + V <= K) {
            col[r] = loadu(src);
          } else {
            float tmp[V] = {};
            for (int64_t i = 0; i < K - k0; ++i) tmp[i] = src[i];
            col[r] = loadu(tmp);
          }
        }
        F::g_1d(col, out);
        for (int i = 0; i < T; ++i) t[i][s] = out[i];
      }
      for (int i = 0; i < T; ++i) {
        F::g_1d(t[i], u);
        for (int j = 0; j < T; ++j) storeu(U + (i * T + j) * ue + (kb * C + c) * KB + kk, u[j]);
      }
    }
  });
}

// Vb[T*T][TB][C] (positions es floats apart) for tile j at input (n, ih0, iw0): B^T d B on
// channels [c, c + width). INNER: the TxT patch lies inside x (no bounds checks); otherwise
// pixels outside x read a zero vector through the same unconditional load (a test and branch
// per pixel made the border tiles 1.5x the inner ones). Columns first, one at a time, through
// t in L1: the whole 8x8 patch and its transform at once (128 vectors) spilled registers.
template <class F, class X, bool INNER>
inline void input_tile(const ConvParams& p, const float* x, int64_t n, int64_t ih0, int64_t iw0,
                       int64_t c, float* Vb, int j, int64_t es) {
  constexpr int T = F::T;
  alignas(64) static const float zeros[V] = {};
  X t[T][T];
  const float* x0 = x + ((n * p.H + ih0) * p.W + iw0) * p.C + c;
  bool rok[T], cok[T];
  for (int a = 0; a < T; ++a) {
    rok[a] = INNER || (ih0 + a >= 0 && ih0 + a < p.H);
    cok[a] = INNER || (iw0 + a >= 0 && iw0 + a < p.W);
  }
  for (int b = 0; b < T; ++b) {
    X col[T], r[T];
    for (int a = 0; a < T; ++a) {
      const float* src = x0 + (a * p.W + b) * p.C;
      col[a] = load(rok[a] && cok[b] ? src : zeros, X{});
    }
    winograd::bt<T>(col, r);
    for (int a = 0; a < T; ++a) t[a][b] = r[a];
  }
  for (int a = 0; a < T; ++a) {
    X r[T];
    winograd::bt<T>(t[a], r);
    for (int b = 0; b < T; ++b) store(Vb + (a * T + b) * es + j * p.C + c, r[b]);
  }
}

// y tile = A^T m A + bias (+ReLU) on channels [k, k + V), the valid pixels only.
template <class F>
inline void output_tile(const ConvParams& p, const float* Mb, int64_t es, int64_t ks, int j,
                        int64_t kl, const float* bias, int64_t n, int64_t oh0, int64_t ow0,
                        int64_t k, float* y) {
  constexpr int M = F::M, T = F::T;
  vf t[M][T];  // columns first, one at a time (all 64 products at once spilled)
  for (int b = 0; b < T; ++b) {
    vf col[T], o[M];
    for (int a = 0; a < T; ++a) col[a] = loadu(Mb + (a * T + b) * es + j * ks + kl);
    F::at_1d(col, o);
    for (int a = 0; a < M; ++a) t[a][b] = o[a];
  }
  const vf bv = loadu(bias + k);
  const int64_t kn = std::min<int64_t>(V, p.K - k);
  for (int a = 0; a < M; ++a) {
    if (oh0 + a >= p.P) break;
    vf o[M];
    F::at_1d(t[a], o);
    for (int b = 0; b < M && ow0 + b < p.Q; ++b) {
      vf v = o[b] + bv;
      if (p.relu) v = v > vf{} ? v : vf{};
      float* dst = y + ((n * p.P + oh0 + a) * p.Q + ow0 + b) * p.K + k;
      if (kn == V) {
        storeu(dst, v);
      } else {
        float tmp[V];
        storeu(tmp, v);
        std::memcpy(dst, tmp, sizeof(float) * kn);
      }
    }
  }
}

// (image, tile row, tile column) of consecutive tiles, without a division per tile.
struct TileIter {
  int64_t n, th, tw, TH, TW;
  TileIter(int64_t t, int64_t th_, int64_t tw_)
      : n(t / (th_ * tw_)), th(t / tw_ % th_), tw(t % tw_), TH(th_), TW(tw_) {}
  void next() {
    if (++tw == TW) {
      tw = 0;
      if (++th == TH) th = 0, ++n;
    }
  }
};

// The GEMMs of several positions e in one call, for a block's single channel pass: for each e,
// y[e] (WB pixels x NV vectors) = x[e] (WB x L, pixel stride L) times w[e] (L x NV vectors).
// With the short reductions of narrow layers (L = C = 16) the microkernel's per-call work
// (bias, accumulate and tail checks, a dispatch per position) took a third of the GEMM time;
// here the accumulators start at zero and the loop over e stays inside. Same sums, same order.
template <int WB, int NV>
__attribute__((noinline)) void gemm_positions(const float* x, int64_t xe, const float* w,
                                              int64_t we, float* y, int64_t ye, int64_t ys,
                                              int L, int ne) {
  for (int e = 0; e < ne; ++e, x += xe, w += we, y += ye) {
    vf acc[WB][NV];
    for (int j = 0; j < WB; ++j)
      for (int v = 0; v < NV; ++v) acc[j][v] = vf{};
    fma_run<WB, NV, false>(acc, x, L, w, L, nullptr);
    for (int j = 0; j < WB; ++j)
      for (int v = 0; v < NV; ++v) storeu(y + j * ys + v * V, acc[j][v]);
  }
}

using PosFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t,
                       int, int);
// gemm_positions for a block of wb pixels (1 <= wb <= the full tile width).
template <int NV, int... I>
PosFn positions_for(int wb, std::integer_sequence<int, I...>) {
  static const PosFn table[] = {&gemm_positions<I + 1, NV>...};
  return table[wb - 1];
}
template <int NV>
PosFn positions_for(int wb) {
  return positions_for<NV>(wb, std::make_integer_sequence<int, NV == 2 ? WB_2 : WB_1>());
}

// Geometry of one call: tiles, blocks of tiles, K split, channel passes.
struct Plan {
  int64_t TH, TW, ntiles, TB, nblocks, nkc, kper, Cb, ncb;
};

// Transform block blk's tiles, run its T*T GEMMs for K blocks [kb0, kb1), transform back.
template <class F, int NVW>
void run_block(const ConvParams& p, const Plan& pl, const float* x, const float* U,
               const float* bp, float* y, int64_t blk, int64_t kb0, int64_t kb1) {
  constexpr int M = F::M, T = F::T, E = T * T, KB = NVW * V, WB = NVW == 2 ? WB_2 : WB_1;
  alignas(64) static const float zeros[KB] = {};
  const int64_t C = p.C, K = p.K, nkb = (K + KB - 1) / KB, cfull = C / V * V;
  const int64_t ks = (kb1 - kb0) * KB;
  const int64_t t0 = blk * pl.TB, tb = std::min<int64_t>(pl.TB, pl.ntiles - t0);
  const int64_t esv = pl.TB * C + kSkew, esm = pl.TB * ks + kSkew;
  float* Vb = workspace(3, size_t(E * esv));
  float* Mb = workspace(4, size_t(E * esm));
  // A channel tail of a layer with C >= V: one more vector ending at C, overlapping the last
  // full one (the transform is per channel, so the overlap recomputes the same values);
  // scalar transforms (C = 24: 8 of them a tile) took as long as the vectors.
  const int64_t ctail = cfull < C && C >= V ? C - V : -1, cscalar = ctail >= 0 ? C : cfull;
  TileIter it(t0, pl.TH, pl.TW);
  for (int j = 0; j < tb; ++j, it.next()) {
    const int64_t n = it.n, ih0 = it.th * M - p.pad_t, iw0 = it.tw * M - p.pad_l;
    if (ih0 >= 0 && ih0 + T <= p.H && iw0 >= 0 && iw0 + T <= p.W) {
      for (int64_t c = 0; c < cfull; c += V)
        input_tile<F, vf, true>(p, x, n, ih0, iw0, c, Vb, j, esv);
      if (ctail >= 0) input_tile<F, vf, true>(p, x, n, ih0, iw0, ctail, Vb, j, esv);
      for (int64_t c = cscalar; c < C; ++c)
        input_tile<F, float, true>(p, x, n, ih0, iw0, c, Vb, j, esv);
    } else {
      for (int64_t c = 0; c < cfull; c += V)
        input_tile<F, vf, false>(p, x, n, ih0, iw0, c, Vb, j, esv);
      if (ctail >= 0) input_tile<F, vf, false>(p, x, n, ih0, iw0, ctail, Vb, j, esv);
      for (int64_t c = cscalar; c < C; ++c)
        input_tile<F, float, false>(p, x, n, ih0, iw0, c, Vb, j, esv);
    }
  }
  if (pl.ncb == 1) {  // one channel pass: all T*T positions per call
    for (int64_t kb = kb0; kb < kb1; ++kb)
      for (int64_t j0 = 0; j0 < tb; j0 += WB)
        positions_for<NVW>(int(std::min<int64_t>(WB, tb - j0)))(
            Vb + j0 * C, esv, U + kb * C * KB, u_stride(nkb, C, KB),
            Mb + j0 * ks + (kb - kb0) * KB, esm, ks, int(C), E);
  } else {  // very wide layers: channel passes accumulate in Mb
    Tile tl;
    tl.xs = C;
    tl.rs = 0;
    tl.ls = 0;
    tl.nr = 1;
    tl.nsg = 1;
    tl.wr = 0;
    tl.wsg = 0;
    tl.bias = zeros;
    tl.ys = ks;
    tl.kvalid = KB;
    tl.relu = false;
    for (int e = 0; e < E; ++e)
      for (int64_t cb = 0; cb < pl.ncb; ++cb) {
        const int64_t c0 = cb * pl.Cb;
        tl.L = int(std::min(pl.Cb, C - c0));
        tl.accum = cb > 0;
        for (int64_t kb = kb0; kb < kb1; ++kb) {
          tl.w = U + e * u_stride(nkb, C, KB) + (kb * C + c0) * KB;
          for (int64_t j0 = 0; j0 < tb; j0 += WB) {
            const int64_t wb = std::min<int64_t>(WB, tb - j0);
            tl.x = Vb + e * esv + j0 * C + c0;
            tl.y = Mb + e * esm + j0 * ks + (kb - kb0) * KB;
            pick<NVW>(int(wb))(tl);
          }
        }
      }
  }
  TileIter ot(t0, pl.TH, pl.TW);
  for (int j = 0; j < tb; ++j, ot.next())
    for (int64_t k = kb0 * KB; k < std::min(K, kb1 * KB); k += V)
      output_tile<F>(p, Mb, esm, ks, j, k - kb0 * KB, bp, ot.n, ot.th * M, ot.tw * M, k, y);
}

// Floats of the transformed weights (U) and of the padded bias after them.
template <class F, int NVW>
int64_t packed_floats(const ConvParams& p) {
  constexpr int64_t KB = NVW * V;
  const int64_t nkb = (p.K + KB - 1) / KB;
  return F::T * F::T * u_stride(nkb, p.C, KB) + nkb * KB;
}

template <class F, int NVW>
void pack_bias(const ConvParams& p, const float* b, float* bp) {
  constexpr int64_t KB = NVW * V;
  for (int64_t k = 0; k < (p.K + KB - 1) / KB * KB; ++k) bp[k] = (b && k < p.K) ? b[k] : 0.0f;
}

// The weights transformed once (prepacked), for every later call: U, then the bias.
template <class F, int NVW>
void pack(const ConvParams& p, const float* w, const float* b, float* out) {
  constexpr int64_t KB = NVW * V;
  const int64_t nkb = (p.K + KB - 1) / KB;
  // about T R (R + T) multiply-adds per (c, k): G g by columns, then (G g) G^T by rows
  parallel_region(threads_for_work(double(F::T) * F::R * (F::R + F::T) * p.C * p.K),
                  [&] { transform_weights<F, NVW>(p, w, out, nkb); });
  pack_bias<F, NVW>(p, b, out + F::T * F::T * u_stride(nkb, p.C, KB));
}

// NVW: K vectors per GEMM block (2; 1 when K fits one vector, so no half-empty blocks).
// packed: pack()'s output for p, or null to transform w (and b) in this call.
template <class F, int NVW>
void run(const ConvParams& p, const float* x, const float* w, const float* b, float* y,
         const float* packed) {
  constexpr int M = F::M, E = F::T * F::T, KB = NVW * V, WB = NVW == 2 ? WB_2 : WB_1;
  const int64_t C = p.C, K = p.K, nkb = (K + KB - 1) / KB;
  float* Uw = packed ? nullptr : workspace(0, size_t(E * u_stride(nkb, C, KB)));
  const float* U = packed ? packed : Uw;
  const float* bp = packed ? packed + E * u_stride(nkb, C, KB) : nullptr;
  if (!packed) {
    float* bw = workspace(1, size_t(nkb * KB));
    pack_bias<F, NVW>(p, b, bw);
    bp = bw;
  }

  Plan pl;
  pl.TH = (p.P + M - 1) / M, pl.TW = (p.Q + M - 1) / M, pl.ntiles = p.N * pl.TH * pl.TW;
  // Tiles per block: the GEMMs read all of U (T^2 C K floats) once per block, so blocks grow
  // with C K to keep that traffic small next to the block's FLOPs (T^2 tiles C K).
  // Few tiles of a narrow layer: smaller blocks, down to one microkernel width, to have at
  // least 8 (batch 1 at 28x28: 14 blocks of 14 tiles, not 7 of 28 that split 4:3 over 2
  // threads). Not for wide layers: each block re-reads U, and K-split tasks redo the input
  // transform (it slowed ResNet's 3x3 layers at batch 1).
  int64_t mult = std::min<int64_t>(8, std::max<int64_t>(2, C * K / 8192));
  while (C * K <= 1024 && mult > 1 && (pl.ntiles + WB * mult - 1) / (WB * mult) < 8) --mult;
  pl.TB = WB * mult;
  // Still under 8 blocks (the dx of the Inception 5x5 layer, K = 16, at batch 1: 49 4x4
  // tiles): about 8 blocks of fewer tiles, an even number of them (6 blocks of 9, not 7 of 7
  // that split 4:3 over 2 threads). Blocking does not change any tile's sums.
  if (C * K <= 1024 && (pl.ntiles + pl.TB - 1) / pl.TB < 8) {
    pl.TB = (pl.ntiles + 7) / 8;
    while ((pl.ntiles + pl.TB - 1) / pl.TB % 2 == 1 && pl.TB < pl.ntiles) ++pl.TB;
  }
  pl.nblocks = (pl.ntiles + pl.TB - 1) / pl.TB;
  // Split the K blocks too when there are few tile blocks (batch 1, small images).
  pl.nkc = std::min<int64_t>(nkb, (16 + pl.nblocks - 1) / pl.nblocks);
  pl.kper = (nkb + pl.nkc - 1) / pl.nkc;
  // Channels per GEMM pass (partial sums accumulate in Mb): one pass unless very wide.
  pl.Cb = C > 1024 ? 512 : C, pl.ncb = (C + pl.Cb - 1) / pl.Cb;

  // One parallel region for the weight transform and the tiles: starting a region wakes the
  // workers, which cost about as much as a 28x28 layer's weight transform.
  const int nt = threads_for_work(double(p.N) * p.P * p.Q * p.K * p.R * p.S * p.C);
  parallel_region(nt, [&] {
    if (!packed) transform_weights<F, NVW>(p, w, Uw, nkb);  // its loop ends with a barrier
    for_dynamic(pl.nblocks * pl.nkc, [&](int64_t task) {
      const int64_t blk = task / pl.nkc, kc = task % pl.nkc;
      const int64_t kb0 = kc * pl.kper, kb1 = std::min(nkb, kb0 + pl.kper);
      if (kb0 < kb1) run_block<F, NVW>(p, pl, x, U, bp, y, blk, kb0, kb1);
    });
  });
}

}  // namespace

void conv2d_fwd_winograd_packed(const ConvParams& p, const float* x, const float* w,
                                const float* b, const float* packed, float* y) {
  run<F43, 2>(p, x, w, b, y, packed);
}

void conv2d_fwd_winograd5_packed(const ConvParams& p, const float* x, const float* w,
                                 const float* b, const float* packed, float* y) {
  if (p.K <= V) run<F45, 1>(p, x, w, b, y, packed);
  else run<F45, 2>(p, x, w, b, y, packed);
}

void conv2d_fwd_winograd_pack(const ConvParams& p, const float* w, const float* b, float* out,
                              int64_t* floats) {
  *floats = packed_floats<F43, 2>(p);
  if (out) pack<F43, 2>(p, w, b, out);
}

void conv2d_fwd_winograd5_pack(const ConvParams& p, const float* w, const float* b, float* out,
                               int64_t* floats) {
  *floats = p.K <= V ? packed_floats<F45, 1>(p) : packed_floats<F45, 2>(p);
  if (out) p.K <= V ? pack<F45, 1>(p, w, b, out) : pack<F45, 2>(p, w, b, out);
}


void conv2d_fwd_winograd(const ConvParams& p, const float* x, const float* w, const float* b,
                         float* y) {
  run<F43, 2>(p, x, w, b, y, nullptr);
}

void conv2d_fwd_winograd5(const ConvParams& p, const float* x, const float* w, const float* b,
                          float* y) {
  conv2d_fwd_winograd5_packed(p, x, w, b, nullptr, y);
}

}  // namespace FC_ISA_NS
}  // namespace fc
