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
// Non-temporal store (p aligned to the vector): no read-for-ownership of the line. Callers
// end with stream_fence() before the data is read by another thread.
inline void storent(float* p, vf v) {
#if defined(__x86_64__) && (defined(FC_ISA_avx512) || defined(FC_ISA_avx2))
  asm volatile("vmovntps %1, %0" : "=m"(*reinterpret_cast<vf*>(p)) : "v"(v));
#elif defined(__x86_64__)
  asm volatile("movntps %1, %0" : "=m"(*reinterpret_cast<vf*>(p)) : "x"(v));
#else
  storeu(p, v);
#endif
}
inline void stream_fence() {
#if defined(__x86_64__)
  asm volatile("sfence" ::: "memory");
#endif
}

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
  bool stream = false;  // full tiles store y non-temporally (y vector aligned)
  const float* pf;    // ukernel<..., true>: the next tile's input, one line per reduction step
  int64_t x2 = 0;     // ukernel<..., SPLIT>: floats from x to the input of pixel SPLIT (the
                      // first pixel of the tile's second output row); pixels SPLIT.. follow
                      // it xs apart
};

#if defined(FC_ISA_avx512) || defined(FC_ISA_avx2)
// Pixel addressing without a register per pixel. Pixel j of a tile is read at
// base[b] + m * xs (m in {0, 1, 2, 4, 8}) or base[b] + m * 3xs (m in {1, 2, 4, 8}), x86 scaled
// addressing with the byte strides xs and 3xs in two registers: a 14-pixel tile needs 3 base
// pointers (pixels 0, 5, 10) instead of 14 offsets, so the inner loop does not spill. The
// broadcast is inline asm because GCC otherwise hoists every j * xs into its own register.
struct PixAddr {
  int base[WB_1];  // tile pixel that each base pointer points at
  int nb;
  int bi[WB_1], kind[WB_1], m[WB_1];  // per pixel: base index, 0 none | 1 xs | 2 3xs, scale
};
// split > 0: pixels split.. lie in a second row (at their own offset), so they are addressed
// only from bases in that row, and pixels before split only from bases before it.
constexpr PixAddr pix_addr(int wb, int split = 0) {
  PixAddr a{};
  for (int j = 0; j < wb; ++j) {
    bool done = false;
    for (int b = 0; b < a.nb && !done; ++b) {
      if (split > 0 && (a.base[b] < split) != (j < split)) continue;
      const int d = j - a.base[b];
      for (int m = 1; m <= 8 && !done; m *= 2) {
        if (d == m) a.bi[j] = b, a.kind[j] = 1, a.m[j] = m, done = true;
        else if (d == 3 * m) a.bi[j] = b, a.kind[j] = 2, a.m[j] = m, done = true;
      }
    }
    if (!done) a.base[a.nb] = j, a.bi[j] = a.nb, a.kind[j] = 0, a.m[j] = 1, ++a.nb;
  }
  return a;
}

template <int KIND, int M, int D>
__attribute__((always_inline)) inline vf bcast(const float* b, int64_t xsb, int64_t xs3b) {
  // No memory operand: it would make GCC spill the accumulators around every asm. The asm
  // only reads the tile's input, which nothing writes while ukernel runs, and ukernel is
  // noinline, so the caller's stores (a padded window) are complete before the call.
  vf r;
  if constexpr (KIND == 0)
    asm("vbroadcastss %c2(%1), %0" : "=v"(r) : "r"(b), "i"(D));
  else if constexpr (KIND == 1)
    asm("vbroadcastss %c4(%1,%2,%c3), %0" : "=v"(r) : "r"(b), "r"(xsb), "i"(M), "i"(D));
  else
    asm("vbroadcastss %c4(%1,%2,%c3), %0" : "=v"(r) : "r"(b), "r"(xs3b), "i"(M), "i"(D));
  return r;
}

// One reduction step (channel c0 + U of every pixel; the weights of that step in wv).
template <int U, int WB, int NV, int SPLIT, int... J>
__attribute__((always_inline)) inline void fma_step(vf (&acc)[WB][NV], const vf (&wv)[NV], const float* const* pb, int64_t xsb,
                     int64_t xs3b, std::integer_sequence<int, J...>) {
  constexpr PixAddr a = pix_addr(WB, SPLIT);
  // always_inline: when GCC's size heuristics left these lambdas out of line (it did after
  // one more ukernel instantiation), every FMA became a call and the kernel ran 2-3x slower.
  (
      [&]() __attribute__((always_inline)) {
        const vf xv = bcast<a.kind[J], a.m[J], U * int(sizeof(float))>(pb[a.bi[J]], xsb, xs3b);
        for (int v = 0; v < NV; ++v) acc[J][v] += xv * wv[v];
      }(),
      ...);
}

#endif

// One run of the reduction: L contiguous channels of WB pixels xs floats apart, times the
// packed weights at w (NV vectors per channel), into acc. PF: prefetch pf, a line per step.
// Shared by the direct microkernel and Winograd's position GEMMs. SPLIT > 0: pixels SPLIT..
// start x2 floats after xp (a second output row).
template <int WB, int NV, bool PF, int SPLIT = 0>
__attribute__((always_inline)) inline void fma_run(vf (&acc)[WB][NV], const float* __restrict xp,
                                                   int64_t xs, const float* __restrict w, int L,
                                                   const float* pf, int64_t x2 = 0) {
#if defined(FC_ISA_avx512) || defined(FC_ISA_avx2)
  constexpr PixAddr a = pix_addr(WB, SPLIT);
  const float* pb[a.nb > 0 ? a.nb : 1];
  for (int b = 0; b < a.nb; ++b)
    pb[b] = SPLIT > 0 && a.base[b] >= SPLIT ? xp + x2 + (a.base[b] - SPLIT) * xs
                                            : xp + a.base[b] * xs;
  const int64_t xsb = xs * int64_t(sizeof(float)), xs3b = 3 * xsb;
  constexpr auto pix = std::make_integer_sequence<int, WB>();
  int c = 0;
  for (; c + 2 <= L; c += 2, w += 2 * NV * V) {  // pointers move every 2 steps
    if constexpr (PF) {
      __builtin_prefetch(pf, 0, 3);
      __builtin_prefetch(pf + 16, 0, 3);
      pf += 32;
    }
    vf wv[NV], wv1[NV];
    for (int v = 0; v < NV; ++v) wv[v] = loadu(w + v * V);
    fma_step<0, WB, NV, SPLIT>(acc, wv, pb, xsb, xs3b, pix);
    for (int v = 0; v < NV; ++v) wv1[v] = loadu(w + (NV + v) * V);
    fma_step<1, WB, NV, SPLIT>(acc, wv1, pb, xsb, xs3b, pix);
    for (int b = 0; b < a.nb; ++b) pb[b] += 2;
  }
  if (c < L) {
    vf wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = loadu(w + v * V);
    fma_step<0, WB, NV, SPLIT>(acc, wv, pb, xsb, xs3b, pix);
  }
#else
  (void)pf;
  for (int c = 0; c < L; ++c, w += NV * V) {
    vf wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = loadu(w + v * V);
#pragma GCC unroll 32
    for (int j = 0; j < WB; ++j) {
      const float xv = SPLIT > 0 && j >= SPLIT ? xp[x2 + (j - SPLIT) * xs + c] : xp[j * xs + c];
      for (int v = 0; v < NV; ++v) acc[j][v] += xv * wv[v];
    }
  }
#endif
}

template <int WB, int NV, bool PF, int SPLIT = 0>
__attribute__((noinline)) void ukernel(const Tile& t) {
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
  for (int r = 0; r < t.nr; ++r)
    for (int sg = 0; sg < t.nsg; ++sg)
      fma_run<WB, NV, PF, SPLIT>(acc, t.x + r * t.rs + sg * t.ls, t.xs,
                                 t.w + r * t.wr + sg * t.wsg, t.L,
                                 PF ? t.pf + r * t.rs + sg * t.ls : nullptr, t.x2);
  if (t.relu) {
    const vf z{};
    for (int j = 0; j < WB; ++j)
      for (int v = 0; v < NV; ++v) acc[j][v] = acc[j][v] > z ? acc[j][v] : z;
  }
  if (t.kvalid == NV * V && t.stream) {
    for (int j = 0; j < WB; ++j)
      for (int v = 0; v < NV; ++v) storent(t.y + j * t.ys + v * V, acc[j][v]);
  } else if (t.kvalid == NV * V) {
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

// Microkernel for a tile of wb pixels (1 <= wb <= the full tile width); PF: prefetch t.pf.
template <int NV, bool PF, int... I>
UkFn pick(int wb, std::integer_sequence<int, I...>) {
  static const UkFn table[] = {&ukernel<I + 1, NV, PF>...};
  return table[wb - 1];
}
template <int NV, bool PF = false>
UkFn pick(int wb) {
  return pick<NV, PF>(wb, std::make_integer_sequence<int, NV == 2 ? WB_2 : WB_1>());
}

// Microkernel for a full tile over two output rows of half a tile each (rows of WB / 2
// pixels: 7x7 layers on AVX-512), the second row's input t.x2 floats after the first's.
template <int NV>
UkFn pick_row_pair() {
  constexpr int WB = NV == 2 ? WB_2 : WB_1;
  return &ukernel<WB, NV, false, WB / 2>;
}

}  // namespace
