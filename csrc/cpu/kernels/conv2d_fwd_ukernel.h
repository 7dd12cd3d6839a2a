// The register-blocked convolution microkernel shared by the forward variants (direct,
// gemm1x1, winograd). Included only by kernel files, inside namespace fc::FC_ISA_NS, so each
// ISA gets its own copy (internal linkage: no ODR clash between the ISA builds).
//
// f32-conv-<WB>x<KB>-<isa>: a tile of WB output pixels times KB output channels lives in
// WB * KB / V vector registers (V = 16 on AVX-512, 8 on AVX2, 4 generic); each reduction step
// loads one or two weight vectors and broadcasts every pixel's input value into FMAs. Tiles:
// 14x32 / 28x16 (AVX-512: 28 accumulators), 6x16 / 12x8 (AVX2), 6x8 / 12x4 (generic SSE2).
// Include <cstdint>, <cstring> and <utility> before opening the namespace.
#pragma once

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
  int64_t wr;         // floats between the weights of consecutive filter rows
  int64_t wsg;        // floats between the weights of consecutive s-groups
  const float* bias;  // KB floats (zero padded); used when !accum
  bool accum;         // start from the partial sums in y (a later channel block) not the bias
  float* y;           // output of the tile's first pixel at the block's first channel
  int64_t ys;         // floats between output pixels (K)
  int kvalid;         // channels of the block that exist (the rest are padding)
  bool relu;          // apply the ReLU (the last channel block only)
};

template <int WB, int NV>
void ukernel(const Tile& t) {
  vf acc[WB][NV];
  if (!t.accum) {
    for (int v = 0; v < NV; ++v) {
      const vf bv = loadu(t.bias + v * V);
      for (int j = 0; j < WB; ++j) acc[j][v] = bv;
    }
  } else if (t.kvalid == NV * V) {
    for (int j = 0; j < WB; ++j)
      for (int v = 0; v < NV; ++v) acc[j][v] = loadu(t.y + j * t.ys + v * V);
  } else {
    float tmp[NV * V] = {};
    for (int j = 0; j < WB; ++j) {
      std::memcpy(tmp, t.y + j * t.ys, sizeof(float) * t.kvalid);
      for (int v = 0; v < NV; ++v) acc[j][v] = loadu(tmp + v * V);
    }
  }
  for (int r = 0; r < t.nr; ++r) {
    for (int sg = 0; sg < t.nsg; ++sg) {
      const float* __restrict xp = t.x + r * t.rs + sg * t.ls;
      const float* __restrict w = t.w + r * t.wr + sg * t.wsg;
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

}  // namespace
