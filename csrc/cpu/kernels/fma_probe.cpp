// FMA peak probe: many independent accumulator chains so the FMA units, not the 4-cycle FMA
// latency, are the limit (Zen 5: 2 FMA/cycle x latency 4 needs >= 8 chains; we keep 16 zmm,
// 12 ymm -- the AVX2 register file has only 16). Nothing is loaded or stored in the loop.
// Compiled once per ISA like every kernel; the generic build uses SSE mul+add (no FMA).
#include <cstdint>

#include "cpu/probe.h"

#if defined(FC_ISA_avx512) || defined(FC_ISA_avx2)
#include <immintrin.h>
#endif

namespace fc {
namespace FC_ISA_NS {

namespace {

#if defined(FC_ISA_avx512)
using vec = __m512;
constexpr int kLanes = 16, kChains = 16;
inline vec vset(float v) { return _mm512_set1_ps(v); }
inline vec vfma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float vsum(vec a) { return _mm512_reduce_add_ps(a); }
constexpr int kFlopsPerFma = 2;
#elif defined(FC_ISA_avx2)
using vec = __m256;
constexpr int kLanes = 8, kChains = 12;
inline vec vset(float v) { return _mm256_set1_ps(v); }
inline vec vfma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float vsum(vec a) {
  alignas(32) float t[8];
  _mm256_store_ps(t, a);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
constexpr int kFlopsPerFma = 2;
#else
using vec = float __attribute__((vector_size(16)));
constexpr int kLanes = 4, kChains = 12;
inline vec vset(float v) { return vec{v, v, v, v}; }
inline vec vfma(vec a, vec b, vec c) { return a * b + c; }  // mul + add: still 2 FLOPs
inline float vsum(vec a) { return a[0] + a[1] + a[2] + a[3]; }
constexpr int kFlopsPerFma = 2;
#endif

// One thread's share: acc = acc * m + a converges to a / (1 - m), never denormal or inf.
float chains(int64_t iters, float seed) {
  const vec m = vset(0.999999f), a = vset(1e-3f);
  vec acc[kChains];
#pragma GCC unroll 16
  for (int i = 0; i < kChains; ++i) acc[i] = vset(seed + 0.001f * float(i));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = vfma(acc[i], m, a);
  }
  float s = 0.0f;
  for (int i = 0; i < kChains; ++i) s += vsum(acc[i]);
  return s;
}

}  // namespace

void fma_probe_run(int threads, int64_t iters, double* flops, float* sink) {
  float total = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  total += chains(iters, 1.0f);
  *sink += total;
  *flops += double(threads) * double(iters) * kChains * kLanes * kFlopsPerFma;
}

}  // namespace FC_ISA_NS
}  // namespace fc
