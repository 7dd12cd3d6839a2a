// Lane-generic float vectors for the memory-bound kernels (pooling, batch norm, element-wise).
// Included by kernel files only, so everything here lives in the per-ISA namespace: the AVX-512
// copy of an inline function can never be picked for the generic build (no ODR clash).
// Vec<L> is a GCC vector of L floats; L may exceed the native width (the compiler splits it
// into several registers), and L = 1 handles channel tails with the same code.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

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
template <int L>
FC_INLINE typename Vec<L>::f vsplat(float s) {
  return typename Vec<L>::f{} + s;
}
template <int L>
FC_INLINE typename Vec<L>::f vmax(typename Vec<L>::f a, typename Vec<L>::f b) {
  return a > b ? a : b;
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

// Runs f(Lanes<L>{}, c) over channels [c0, c1): blocks of 4 native vectors, then single
// native vectors, then one channel at a time. Every block computes lane-wise, so the result
// of a channel does not depend on which block it fell in.
template <class F>
FC_INLINE void for_lanes(int64_t c0, int64_t c1, F&& f) {
  int64_t c = c0;
  for (; c + 4 * kVL <= c1; c += 4 * kVL) f(Lanes<4 * kVL>{}, c);
  for (; c + kVL <= c1; c += kVL) f(Lanes<kVL>{}, c);
  for (; c < c1; ++c) f(Lanes<1>{}, c);
}

}  // namespace FC_ISA_NS
}  // namespace fc
