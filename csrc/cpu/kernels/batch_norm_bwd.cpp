// Batch-norm backward kernels: per-chunk partial sums of g and g * (x - mean) (g = dy, masked
// by y > 0 after a fused ReLU), then dx = a * g + b * (x - mean) + k0 per channel.
#include <algorithm>

#include "cpu/batch_norm.h"
#include "cpu/threads.h"
#include "lanes.h"

namespace fc {
namespace FC_ISA_NS {

template <int L>
FC_INLINE typename Vec<L>::f masked_grad(const float* dy, const float* y, int64_t o) {
  const auto g = vload<L>(dy + o);
  if (!y) return g;
  return vselect<L>(vload<L>(y + o) > vsplat<L>(0.0f), g);
}

void bn_bwd_partials(int64_t M, int64_t C, const float* __restrict dy,
                     const float* __restrict x, const float* __restrict y,
                     const float* __restrict mean, double* __restrict sdy,
                     double* __restrict sdyx) {
  const int64_t T = bn_chunks(M);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const int64_t r0 = t * kBnChunkRows, r1 = std::min(M, r0 + kBnChunkRows);
    for_lanes(0, C, [&](auto lanes, int64_t c) {
      constexpr int L = decltype(lanes)::value;
      const auto m = vload<L>(mean + c);
      for (int64_t f0 = r0; f0 < r1; f0 += kBnFlushRows) {
        const int64_t f1 = std::min(r1, f0 + kBnFlushRows);
        auto a = vsplat<L>(0.0f), b = vsplat<L>(0.0f);
        for (int64_t r = f0; r < f1; ++r) {
          const auto g = masked_grad<L>(dy, y, r * C + c);
          a += g;
          b += g * (vload<L>(x + r * C + c) - m);
        }
        vadd_to_f64<L>(sdy + t * C + c, a);  // sdy, sdyx arrive zeroed
        vadd_to_f64<L>(sdyx + t * C + c, b);
      }
    });
  }
}

void bn_bwd_apply(int64_t M, int64_t C, const float* __restrict dy, const float* __restrict x,
                  const float* __restrict y, const float* __restrict mean,
                  const float* __restrict a, const float* __restrict b,
                  const float* __restrict k0, float* __restrict dx) {
  const int64_t T = bn_chunks(M);
  const bool nt = stream_rows(dx, M * C, C);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const int64_t r0 = t * kBnChunkRows, r1 = std::min(M, r0 + kBnChunkRows);
    for_lanes(0, C, [&](auto lanes, int64_t c) {
      constexpr int L = decltype(lanes)::value;
      const auto m = vload<L>(mean + c), av = vload<L>(a + c), bv = vload<L>(b + c);
      const auto kv = vload<L>(k0 + c);
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t o = r * C + c;
        const auto g = masked_grad<L>(dy, y, o);
        vput<L>(nt, dx + o, av * g + bv * (vload<L>(x + o) - m) + kv);
      }
    });
    if (nt) stream_fence();
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
