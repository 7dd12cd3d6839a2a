// Convolution forward, register-blocked direct convolution ("direct" and "gemm1x1" variants).
//
// Microkernel f32-conv-<WB>x<KB>-<isa>: a tile of WB output pixels along a row times KB output
// channels lives in WB * KB / V vector registers (V = 16 on AVX-512, 8 on AVX2, 4 generic);
// for each reduction step one or two weight vectors are loaded and every pixel's input value
// is broadcast and FMA'd into its accumulators. Tiles: 14x32 / 28x16 (AVX-512, 28
// accumulators), 6x16 / 12x8 (AVX2), 6x8 / 12x4 (generic).
//
// Weights are repacked per call into the workspace as [group][K block][r][s][c][KB], zero
// padded to a whole block, so the reduction over (r, s, c) reads them sequentially. When the
// input channels of neighbouring filter taps are contiguous (groups == 1, dilation_w == 1),
// the (s, c) loops fold into one reduction of length S * C: the 1-3 channel first layers then
// have a long vector loop instead of a 3-step one. Tiles that touch the left/right padding
// copy their input window into a small zero-padded buffer (bounded by the tile) and run the
// same microkernel; rows in the top/bottom padding are skipped.
//
// Every output element is computed by one microkernel call with a fixed reduction order
// (r, s, c), so the result never depends on the thread count or the task split.
#include <algorithm>
#include <cstring>
#include <utility>

#include "cpu/conv2d.h"
#include "cpu/memory.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {
namespace {

#if defined(FC_ISA_avx512)
constexpr int V = 16, WB_2 = 14, WB_1 = 28;
#elif defined(FC_ISA_avx2)
constexpr int V = 8, WB_2 = 6, WB_1 = 12;
#else
constexpr int V = 4, WB_2 = 6, WB_1 = 12;
#endif
typedef float vf __attribute__((vector_size(V * sizeof(float))));

inline vf loadu(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void storeu(float* p, vf v) { std::memcpy(p, &v, sizeof v); }

// One microkernel call: where the tile's inputs, weights and outputs are.
struct Tile {
  const float* x;     // input of the tile's first pixel at its first filter row, channel 0
  int64_t xs;         // floats between consecutive pixels' inputs (stride_w * channel stride)
  int64_t rs;         // floats between filter rows
  int64_t ls;         // floats between s-groups
  int nr;             // filter rows to run (rows in the padding are skipped)
  int nsg;            // s-groups per row: 1 when (s, c) is folded, else S
  int L;              // contiguous reduction length per s-group: S * Cg folded, else Cg
  const float* w;     // packed weights of this K block at the first row run
  const float* bias;  // KB floats (zero padded)
  float* y;           // output of the tile's first pixel at the block's first channel
  int64_t ys;         // floats between output pixels (K)
  int kvalid;         // channels of the block that exist (the rest are padding)
  bool relu;
};

template <int WB, int NV>
void ukernel(const Tile& t) {
  vf acc[WB][NV];
  for (int v = 0; v < NV; ++v) {
    const vf bv = loadu(t.bias + v * V);
    for (int j = 0; j < WB; ++j) acc[j][v] = bv;
  }
  const float* __restrict w = t.w;
  for (int r = 0; r < t.nr; ++r) {
    for (int sg = 0; sg < t.nsg; ++sg) {
      const float* __restrict xp = t.x + r * t.rs + sg * t.ls;
      const int64_t xs = t.xs;
      for (int c = 0; c < t.L; ++c, w += NV * V) {
        vf wv[NV];
        for (int v = 0; v < NV; ++v) wv[v] = loadu(w + v * V);
#pragma GCC unroll 32
        for (int j = 0; j < WB; ++j) {
          const float xv = xp[j * xs + c];
          for (int v = 0; v < NV; ++v) acc[j][v] += xv * wv[v];
        }
      }
    }
  }
  if (t.relu) {
    const vf z{};
    for (int j = 0; j < WB; ++j)
      for (int v = 0; v < NV; ++v) acc[j][v] = acc[j][v] > z ? acc[j][v] : z;
  }
  if (t.kvalid == NV * V) {
    for (int j = 0; j < WB; ++j)
      for (int v = 0; v < NV; ++v) storeu(t.y + j * t.ys + v * V, acc[j][v]);
  } else {
    float tmp[NV * V];
    for (int j = 0; j < WB; ++j) {
      for (int v = 0; v < NV; ++v) storeu(tmp + v * V, acc[j][v]);
      std::memcpy(t.y + j * t.ys, tmp, sizeof(float) * t.kvalid);
    }
  }
}

using UkFn = void (*)(const Tile&);

// Microkernel for a tile of wb pixels (1 <= wb <= the full tile width).
template <int NV, int... I>
UkFn pick(int wb, std::integer_sequence<int, I...>) {
  static const UkFn table[] = {&ukernel<I + 1, NV>...};
  return table[wb - 1];
}
template <int NV>
UkFn pick(int wb) {
  return pick<NV>(wb, std::make_integer_sequence<int, NV == 2 ? WB_2 : WB_1>());
}

// Packs HWIO weights into [g][kb][r][s][c][KB] and the bias into [g][kb][KB], zero padded.
void pack(const ConvParams& p, const float* w, const float* b, int KB, float* wp, float* bp) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), nkb = (Kg + KB - 1) / KB, RSC = p.R * p.S * Cg;
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t k0 = g * Kg + kb * KB, kn = std::min<int64_t>(KB, Kg - kb * KB);
      float* dst = wp + (g * nkb + kb) * RSC * KB;
      for (int64_t i = 0; i < RSC; ++i) {  // i = (r * S + s) * Cg + c, as in HWIO
        const float* src = w + i * p.K + k0;
        for (int64_t k = 0; k < kn; ++k) dst[i * KB + k] = src[k];
        for (int64_t k = kn; k < KB; ++k) dst[i * KB + k] = 0.0f;
      }
      float* bd = bp + (g * nkb + kb) * KB;
      for (int64_t k = 0; k < KB; ++k) bd[k] = (b && k < kn) ? b[k0 + k] : 0.0f;
    }
}

template <int NV>
void direct(const ConvParams& p, const float* x, const float* w, const float* b, float* y) {
  constexpr int KB = NV * V, WB = NV == 2 ? WB_2 : WB_1;
  const int64_t Cg = p.Cg(), Kg = p.Kg(), C = p.C, K = p.K, G = p.groups;
  const int64_t nkb = (Kg + KB - 1) / KB, RSC = p.R * p.S * Cg;
  float* wp = workspace(0, size_t(G * nkb * RSC * KB));
  float* bp = workspace(1, size_t(G * nkb * KB));
  pack(p, w, b, KB, wp, bp);

  const bool fold = G == 1 && p.dil_w == 1;
  const int64_t ntile = (p.Q + WB - 1) / WB, rows = p.N * p.P;
  // Enough tasks for the threads even at batch 1: split the K blocks of a row if rows are few.
  const int64_t nkc = std::min<int64_t>(nkb, std::max<int64_t>(1, 64 / (rows * G)));
  const int64_t kper = (nkb + nkc - 1) / nkc;
  const int64_t tasks = rows * G * nkc;
  const int64_t span_max = (WB - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1;

#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t kc = task % nkc, g = (task / nkc) % G, row = task / (nkc * G);
    const int64_t n = row / p.P, oh = row % p.P;
    const int64_t kb0 = kc * kper, kb1 = std::min(nkb, kb0 + kper);
    const int64_t ih0 = oh * p.stride_h - p.pad_t;
    int64_t r_lo = 0, r_hi = p.R;
    while (r_lo < p.R && ih0 + r_lo * p.dil_h < 0) ++r_lo;
    while (r_hi > r_lo && ih0 + (r_hi - 1) * p.dil_h >= p.H) --r_hi;
    const int nr = int(r_hi - r_lo);
    float* buf = nullptr;
    for (int64_t tile = 0; tile < ntile; ++tile) {
      const int64_t ow0 = tile * WB, wb = std::min<int64_t>(WB, p.Q - ow0);
      const int64_t iw0 = ow0 * p.stride_w - p.pad_l;
      const int64_t span = (wb - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1;
      Tile t;
      t.nr = nr;
      t.relu = p.relu;
      t.ys = K;
      if (iw0 >= 0 && iw0 + span <= p.W) {  // interior: read the input in place
        t.x = x + ((n * p.H + ih0 + r_lo * p.dil_h) * p.W + iw0) * C + g * Cg;
        t.xs = p.stride_w * C;
        t.rs = p.dil_h * p.W * C;
        t.nsg = fold ? 1 : int(p.S);
        t.ls = fold ? 0 : p.dil_w * C;
        t.L = int(fold ? p.S * Cg : Cg);
      } else {  // touches the left/right padding: copy the window into a zero-padded buffer
        if (!buf) buf = workspace(2, size_t(std::max(1, nr) * span_max * Cg));
        for (int r = 0; r < nr; ++r) {
          const float* src = x + ((n * p.H + ih0 + (r_lo + r) * p.dil_h) * p.W) * C + g * Cg;
          for (int64_t i = 0; i < span; ++i) {
            float* d = buf + (r * span + i) * Cg;
            const int64_t iw = iw0 + i;
            if (iw >= 0 && iw < p.W)
              std::memcpy(d, src + iw * C, sizeof(float) * Cg);
            else
              std::memset(d, 0, sizeof(float) * Cg);
          }
        }
        t.x = buf;
        t.xs = p.stride_w * Cg;
        t.rs = span * Cg;
        t.nsg = p.dil_w == 1 ? 1 : int(p.S);
        t.ls = p.dil_w == 1 ? 0 : p.dil_w * Cg;
        t.L = int(p.dil_w == 1 ? p.S * Cg : Cg);
      }
      const UkFn fn = pick<NV>(int(wb));
      for (int64_t kb = kb0; kb < kb1; ++kb) {
        t.w = wp + ((g * nkb + kb) * RSC + r_lo * p.S * Cg) * KB;
        t.bias = bp + (g * nkb + kb) * KB;
        t.y = y + ((n * p.P + oh) * p.Q + ow0) * K + g * Kg + kb * KB;
        t.kvalid = int(std::min<int64_t>(KB, Kg - kb * KB));
        fn(t);
      }
    }
  }
}

// 1x1, stride 1, no padding: a GEMM (pixels x Cg) times (Cg x Kg) per group, with the pixels
// of the whole batch flattened so that tiles never straddle a short row.
template <int NV>
void gemm1x1(const ConvParams& p, const float* x, const float* w, const float* b, float* y) {
  constexpr int KB = NV * V, WB = NV == 2 ? WB_2 : WB_1;
  const int64_t Cg = p.Cg(), Kg = p.Kg(), C = p.C, K = p.K, G = p.groups;
  const int64_t nkb = (Kg + KB - 1) / KB;
  float* wp = workspace(0, size_t(G * nkb * Cg * KB));
  float* bp = workspace(1, size_t(G * nkb * KB));
  pack(p, w, b, KB, wp, bp);

  const int64_t M = p.N * p.P * p.Q, ntile = (M + WB - 1) / WB;
  constexpr int64_t kTilesPerTask = 8;
  const int64_t nchunk = (ntile + kTilesPerTask - 1) / kTilesPerTask;
  const int64_t tasks = nchunk * G * nkb;
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t kb = task % nkb, g = (task / nkb) % G, chunk = task / (nkb * G);
    Tile t;
    t.xs = C;
    t.rs = 0;
    t.ls = 0;
    t.nr = 1;
    t.nsg = 1;
    t.L = int(Cg);
    t.w = wp + (g * nkb + kb) * Cg * KB;
    t.bias = bp + (g * nkb + kb) * KB;
    t.ys = K;
    t.kvalid = int(std::min<int64_t>(KB, Kg - kb * KB));
    t.relu = p.relu;
    const int64_t tile1 = std::min(ntile, (chunk + 1) * kTilesPerTask);
    for (int64_t tile = chunk * kTilesPerTask; tile < tile1; ++tile) {
      const int64_t m0 = tile * WB, wb = std::min<int64_t>(WB, M - m0);
      t.x = x + m0 * C + g * Cg;
      t.y = y + m0 * K + g * Kg + kb * KB;
      pick<NV>(int(wb))(t);
    }
  }
}

}  // namespace

void conv2d_fwd_direct(const ConvParams& p, const float* x, const float* w, const float* b,
                       float* y) {
  if (p.Kg() <= V)
    direct<1>(p, x, w, b, y);
  else
    direct<2>(p, x, w, b, y);
}

void conv2d_fwd_gemm1x1(const ConvParams& p, const float* x, const float* w, const float* b,
                        float* y) {
  if (p.Kg() <= V)
    gemm1x1<1>(p, x, w, b, y);
  else
    gemm1x1<2>(p, x, w, b, y);
}

}  // namespace FC_ISA_NS
}  // namespace fc
