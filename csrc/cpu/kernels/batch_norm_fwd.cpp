// Batch-norm forward kernels over an (M, C) row-major matrix (NHWC pixels x channels).
// Statistics: each fixed chunk of kBnChunkRows rows sums (x - shift) and its square per
// channel in registers (a block of channels at a time, rows streamed), flushing to float64
// every kBnFlushRows rows; the driver adds the chunks in order in float64. Apply: one streaming pass with per-channel coefficients.
#include <algorithm>

#include "cpu/batch_norm.h"
#include "cpu/threads.h"
#include "lanes.h"

namespace fc {
namespace FC_ISA_NS {

void bn_stats_partials(int64_t M, int64_t C, const float* __restrict x,
                       const float* __restrict shift, double* __restrict s1,
                       double* __restrict s2) {
  const int64_t T = bn_chunks(M);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const int64_t r0 = t * kBnChunkRows, r1 = std::min(M, r0 + kBnChunkRows);
    for_lanes_wide(0, C, [&](auto lanes, int64_t c) {
      constexpr int L = decltype(lanes)::value;
      const auto sh = vload<L>(shift + c);
      for (int64_t f0 = r0; f0 < r1; f0 += kBnFlushRows) {
        const int64_t f1 = std::min(r1, f0 + kBnFlushRows);
        auto a = vsplat<L>(0.0f), b = vsplat<L>(0.0f);
        for (int64_t r = f0; r < f1; ++r) {
          const auto d = vload<L>(x + r * C + c) - sh;
          a += d;
          b += d * d;
        }
        vadd_to_f64<L>(s1 + t * C + c, a);  // s1, s2 arrive zeroed
        vadd_to_f64<L>(s2 + t * C + c, b);
      }
    });
  }
}

void bn_apply(int64_t M, int64_t C, const float* __restrict x, const float* __restrict mean_hi,
              const float* __restrict mean_lo, const float* __restrict scale,
              const float* __restrict beta, bool relu, float* __restrict y) {
  const int64_t T = bn_chunks(M);
  const bool nt = stream_rows(y, M * C, C);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const int64_t r0 = t * kBnChunkRows, r1 = std::min(M, r0 + kBnChunkRows);
    if (relu) {
      for_lanes(0, C, [&](auto lanes, int64_t c) {
        constexpr int L = decltype(lanes)::value;
        const auto hi = vload<L>(mean_hi + c), lo = vload<L>(mean_lo + c);
        const auto k = vload<L>(scale + c), b = vload<L>(beta + c);
        const auto zero = vsplat<L>(0.0f);
        for (int64_t r = r0; r < r1; ++r)
          vput<L>(nt, y + r * C + c,
                  vmax<L>(((vload<L>(x + r * C + c) - hi) - lo) * k + b, zero));
      });
    } else {
      for_lanes_wide(0, C, [&](auto lanes, int64_t c) {
        constexpr int L = decltype(lanes)::value;
        const auto hi = vload<L>(mean_hi + c), lo = vload<L>(mean_lo + c);
        const auto k = vload<L>(scale + c), b = vload<L>(beta + c);
        for (int64_t r = r0; r < r1; ++r)
          vput<L>(nt, y + r * C + c, ((vload<L>(x + r * C + c) - hi) - lo) * k + b);
      });
    }
    if (nt) stream_fence();
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
