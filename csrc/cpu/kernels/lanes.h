// Lane-generic float vectors for the memory-bound kernels (pooling, batch norm, element-wise).
// Included by kernel files only, so everything here lives in the per-ISA namespace: the AVX-512
// copy of an inline function can never be picked for the generic build (no ODR clash).
// Vec<L> is a GCC vector of L floats; L = 1 handles channel tails with the same code.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {

#if defined(FC_ISA_avx512)
constexpr int kVL = 16;
#elif defined(FC_ISA_avx2)
constexpr int kVL = 8;
#else
constexpr int kVL = 4;
#endif

template <int L>
struct Vec {
  typedef float f __attribute__((vector_size(4 * L)));
  typedef int32_t i __attribute__((vector_size(4 * L)));
};

template <int L>
struct VecD {
  typedef double d __attribute__((vector_size(8 * L)));
};

#define FC_INLINE inline __attribute__((always_inline))

template <int L>
FC_INLINE typename Vec<L>::f vload(const float* p) {
  typename Vec<L>::f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <int L>
FC_INLINE void vstore(float* p, typename Vec<L>::f v) {
  std::memcpy(p, &v, sizeof v);
}
// Streaming (non-temporal) store of a native vector to a vector-aligned address: big outputs
// skip the read-for-ownership and do not evict the inputs from cache. Other widths store
// normally. Call stream_fence() before the writing thread's results are read.
template <int L>
FC_INLINE void vstream(float* p, typename Vec<L>::f v) {
  if constexpr (L > kVL && L % kVL == 0) {  // a wide vector: stream its native pieces
    for (int k = 0; k < L / kVL; ++k) {
      typename Vec<kVL>::f part;
      std::memcpy(&part, reinterpret_cast<const char*>(&v) + k * sizeof part, sizeof part);
      vstream<kVL>(p + k * kVL, part);
    }
    return;
  }
#if defined(__x86_64__) && defined(FC_ISA_avx512)
  if constexpr (L == 16) return _mm512_stream_ps(p, (__m512)v);
#elif defined(__x86_64__) && defined(FC_ISA_avx2)
  if constexpr (L == 8) return _mm256_stream_ps(p, (__m256)v);
#elif defined(__x86_64__)
  if constexpr (L == 4) return _mm_stream_ps(p, (__m128)v);
#endif
  vstore<L>(p, v);
}
// Streams if nt (the caller checked alignment), else a normal store.
template <int L>
FC_INLINE void vput(bool nt, float* p, typename Vec<L>::f v) {
  if (nt)
    vstream<L>(p, v);
  else
    vstore<L>(p, v);
}
FC_INLINE void stream_fence() {
#if defined(__x86_64__)
  _mm_sfence();
#endif
}
// Outputs at least this big are streamed (they would not stay in cache for the next op).
constexpr int64_t kStreamBytes = int64_t(16) << 20;
inline bool vec_aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % (sizeof(float) * kVL) == 0;
}
// Whether to stream an (rows x C) output at y: big, and every channel vector aligned.
inline bool stream_rows(const float* y, int64_t elements, int64_t C) {
  return elements * int64_t(sizeof(float)) >= kStreamBytes && C % kVL == 0 && vec_aligned(y);
}

// Software prefetch this far ahead of a sequential read stream. The hardware prefetchers
// alone leave a single core's row loops (several loads and stores per vector) at 75-85 % of
// a plain read's bandwidth; a prefetch 4 KiB ahead brings them to ~95 % (measured on
// Skylake-SP). Prefetches never fault, so running past the end of an array is harmless.
constexpr int64_t kPrefetchFloats = 1024;
template <int L>
FC_INLINE void prefetch_ahead(const float* p) {
#if defined(__x86_64__)
  constexpr int kLine = 16;  // floats per 64-byte cache line
  if constexpr (L >= kLine) {
    for (int k = 0; k < L; k += kLine)
      _mm_prefetch(reinterpret_cast<const char*>(p + k + kPrefetchFloats), _MM_HINT_T0);
  } else if constexpr (L == kVL) {  // narrower native vectors: one per vector
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchFloats), _MM_HINT_T0);
  }
#else
  (void)p;
#endif
}

template <int L>
FC_INLINE typename Vec<L>::f vsplat(float s) {
  return typename Vec<L>::f{} + s;
}
template <int L>
FC_INLINE typename Vec<L>::f vmax(typename Vec<L>::f a, typename Vec<L>::f b) {
  if constexpr (L > kVL && L % kVL == 0) {  // wide: per native piece (no scalarised compare)
    typename Vec<L>::f r;
    for (int k = 0; k < L / kVL; ++k) {
      typename Vec<kVL>::f pa, pb;
      std::memcpy(&pa, reinterpret_cast<const char*>(&a) + k * sizeof pa, sizeof pa);
      std::memcpy(&pb, reinterpret_cast<const char*>(&b) + k * sizeof pb, sizeof pb);
      pa = pa > pb ? pa : pb;
      std::memcpy(reinterpret_cast<char*>(&r) + k * sizeof pa, &pa, sizeof pa);
    }
    return r;
  } else {
    return a > b ? a : b;
  }
}
// Lanes of v where mask is set, else +0.0.
template <int L>
FC_INLINE typename Vec<L>::f vselect(typename Vec<L>::i mask, typename Vec<L>::f v) {
  return (typename Vec<L>::f)(mask & (typename Vec<L>::i)v);
}

// dst[0:L] += v, widened to float64 (partial sums flushed from float registers).
template <int L>
FC_INLINE void vadd_to_f64(double* dst, typename Vec<L>::f v) {
  typename VecD<L>::d acc;
  std::memcpy(&acc, dst, sizeof acc);
  acc += __builtin_convertvector(v, typename VecD<L>::d);
  std::memcpy(dst, &acc, sizeof acc);
}

template <int L>
using Lanes = std::integral_constant<int, L>;

// Threads for a memory-bound region over `elements` floats: small layers (LeNet's maps are
// 50-150 k floats, 30-140 us on one thread) run on the calling thread, where a fork/join
// costs more than it saves: the second core's worker has gone to sleep during the Python
// between two ops, and on a busy host it waits for that core (LeNet's 28x28x6 pool forward:
// 39 us on 1 thread, 86 us best of 200 on 2 with the host loaded). Results never depend on
// it (one writer per output, fixed reduction orders).
constexpr int64_t kSerialElements = int64_t(1) << 18;
inline int threads_for_elements(int64_t elements) {
  return elements < kSerialElements ? 1 : num_threads();
}

// Runs f(Lanes<C>{}) for 1 <= C < 16 (a compile-time channel count: the per-pixel channel
// loops unroll into registers); false for other C, which take the vector paths.
template <class F>
FC_INLINE bool with_few_channels(int64_t C, F&& f) {
  switch (C) {
#define FC_FEW_CASE(c) \
  case c:              \
    f(Lanes<c>{});     \
    return true;
    FC_FEW_CASE(1) FC_FEW_CASE(2) FC_FEW_CASE(3) FC_FEW_CASE(4) FC_FEW_CASE(5)
    FC_FEW_CASE(6) FC_FEW_CASE(7) FC_FEW_CASE(8) FC_FEW_CASE(9) FC_FEW_CASE(10)
    FC_FEW_CASE(11) FC_FEW_CASE(12) FC_FEW_CASE(13) FC_FEW_CASE(14) FC_FEW_CASE(15)
#undef FC_FEW_CASE
    default: return false;
  }
}

// Runs f(Lanes<L>{}, c) over channels [c0, c1): native vectors, then one channel at a time.
// Comparisons and selects must stay at the native width: GCC splits oversized vectors for
// arithmetic well but scalarises their compares.
template <class F>
FC_INLINE void for_lanes(int64_t c0, int64_t c1, F&& f) {
  int64_t c = c0;
  for (; c + kVL <= c1; c += kVL) f(Lanes<kVL>{}, c);
  for (; c < c1; ++c) f(Lanes<1>{}, c);
}

// The same with blocks of 4 native vectors first (more independent accumulators), for
// bodies that only add, multiply and vmax.
template <class F>
FC_INLINE void for_lanes_wide(int64_t c0, int64_t c1, F&& f) {
  int64_t c = c0;
  for (; c + 4 * kVL <= c1; c += 4 * kVL) f(Lanes<4 * kVL>{}, c);
  for_lanes(c, c1, f);
}

}  // namespace FC_ISA_NS
}  // namespace fc
