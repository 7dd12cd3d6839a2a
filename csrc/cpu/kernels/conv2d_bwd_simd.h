// Vector helpers for the convolution backward kernels, one definition per ISA build
// (included by the convolution kernel files, inside FC_ISA_NS).
// VL floats per vector: 16 (AVX-512), 8 (AVX2), 4 (generic SSE2). Partial loads zero the
// lanes past n, so tails along K or C never read past the end of an array.
#pragma once
#include <cstdint>
#include <cstring>

#include "cpu/blocks.h"
#include "cpu/conv2d.h"
#include "cpu/threads.h"

#if defined(FC_ISA_avx512) || defined(FC_ISA_avx2)
#include <immintrin.h>
#endif

namespace fc {
namespace FC_ISA_NS {
namespace bwd {

#if defined(FC_ISA_avx512)
constexpr int VL = 16;
constexpr int kRegs = 32;
#elif defined(FC_ISA_avx2)
constexpr int VL = 8;
constexpr int kRegs = 16;
#else
constexpr int VL = 4;
constexpr int kRegs = 16;
#endif

typedef float vf __attribute__((vector_size(VL * sizeof(float))));

// dw tiles (channel rows x K vectors of accumulators): the register budget of the ISA.
constexpr int kTileNV = kRegs == 32 ? 4 : 2;    // K vectors per tile (max)
constexpr int kTileAcc = kRegs == 32 ? 24 : 12;  // accumulators per tile (max)

static inline vf vload(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
static inline void vstore(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
static inline vf vbcast(float s) {
#if defined(FC_ISA_avx512)
  return (vf)_mm512_set1_ps(s);
#elif defined(FC_ISA_avx2)
  return (vf)_mm256_set1_ps(s);
#else
  vf v;
  for (int i = 0; i < VL; ++i) v[i] = s;
  return v;
#endif
}

// First n lanes from p (0 <= n <= VL), the rest zero; never touches p[n..].
static inline vf vload_n(const float* p, int n) {
#if defined(FC_ISA_avx512)
  return (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
#elif defined(FC_ISA_avx2)
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
  return (vf)_mm256_maskload_ps(p, m);
#else
  vf v = {};
  for (int i = 0; i < n; ++i) v[i] = p[i];
  return v;
#endif
}

static inline vf vload_t(const float* p, int n) { return n == VL ? vload(p) : vload_n(p, n); }

static inline void vstore_n(float* p, vf v, int n) {
  if (n == VL) {
    vstore(p, v);
    return;
  }
#if defined(FC_ISA_avx512)
  _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
#elif defined(FC_ISA_avx2)
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx), (__m256)v);
#else
  for (int i = 0; i < n; ++i) p[i] = v[i];
#endif
}

// Stops the compiler from folding a loaded vector into several FMAs' memory operands (it
// would load it again for each use when registers run short).
static inline void keep_in_register(vf& v) {
#if defined(__GNUC__) && (defined(FC_ISA_avx512) || defined(FC_ISA_avx2))
  __asm__("" : "+v"(v));
#else
  (void)v;
#endif
}

// acc[i][v] += s[i * ss] * d[v]: the rank-1 update of the broadcast-FMA tiles, one broadcast
// feeding NV FMAs (kept in a register, not folded into NV memory-operand FMAs). Fully
// unrolled up to MR = 24 (a partly unrolled loop sends the accumulators through the stack).
template <int MR, int NV>
static inline void bcast_fma(vf (&acc)[MR][NV], const float* s, int64_t ss, const vf (&d)[NV]) {
#pragma GCC unroll 24
  for (int i = 0; i < MR; ++i) {
    vf b = vbcast(s[i * ss]);
    keep_in_register(b);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] += b * d[v];
  }
}

// Horizontal sum in a fixed (tree) order.
static inline float vsum(vf v) {
#if defined(FC_ISA_avx512)
  return _mm512_reduce_add_ps((__m512)v);
#elif defined(FC_ISA_avx2)
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128((__m256)v), _mm256_extractf128_ps((__m256)v, 1));
  const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1)));
#else
  float t[VL];
  std::memcpy(t, &v, sizeof v);
  for (int w = VL / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) t[i] += t[i + w];
  return t[0];
#endif
}

// Threads for a parallel region doing `work` multiply-adds (fc::threads_for_work: layers
// below kSerialConvMacs run on the calling thread; results never depend on it).
static inline int threads_for(double work) { return threads_for_work(work); }

// Multiply-adds of one backward-data (or backward-weight) pass.
static inline double conv_macs(const ConvParams& p) {
  return double(p.N) * p.P * p.Q * p.K * p.R * p.S * p.Cg();
}

using fc::Blocks;

}  // namespace bwd
}  // namespace FC_ISA_NS
}  // namespace fc
