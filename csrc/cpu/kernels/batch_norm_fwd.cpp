// Batch-norm forward kernels over an (M, C) row-major matrix (NHWC pixels x channels).
// Statistics: each fixed chunk of kBnChunkRows rows sums (x - shift) and its square per
// channel (batch_norm_sums.h: one sequential read of the chunk); the driver adds the chunks
// in order in float64. Apply: one streaming pass, rows in memory order, per-channel
// coefficients read from L1.
#include <algorithm>

#include "batch_norm_sums.h"
#include "cpu/batch_norm.h"
#include "cpu/threads.h"
#include "lanes.h"

namespace fc {
namespace FC_ISA_NS {

void bn_stats_partials(int64_t M, int64_t C, const float* __restrict x,
                       const float* __restrict shift, double* __restrict s1,
                       double* __restrict s2) {
  const int64_t T = bn_chunks(M);
#pragma omp parallel for num_threads(threads_for_elements(M * C)) schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const int64_t r0 = t * kBnChunkRows, r1 = std::min(M, r0 + kBnChunkRows);
    // Captures by value: the compiler then keeps x, C, shift in registers across the stores
    // to the accumulators instead of reloading them for every vector.
    bn_chunk_sums<true>(r0, r1, C, s1 + t * C, s2 + t * C, [x, C, shift](auto lanes, int64_t r,
                                                                          int64_t c) {
      constexpr int L = decltype(lanes)::value;
      prefetch_ahead<L>(x + r * C + c);
      const auto d = vload<L>(x + r * C + c) - vload<L>(shift + c);
      return VPair<L>{d, d * d};
    });
  }
}

template <bool kRelu, bool kRes>
static void apply_rows(int64_t r0, int64_t r1, int64_t C, const float* __restrict x,
                       const float* __restrict hi, const float* __restrict lo,
                       const float* __restrict k, const float* __restrict b,
                       const float* __restrict z, bool nt, float* __restrict y) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    for_lanes(0, C, [&](auto lanes, int64_t c) {
      constexpr int L = decltype(lanes)::value;
      prefetch_ahead<L>(xr + c);
      auto v = ((vload<L>(xr + c) - vload<L>(hi + c)) - vload<L>(lo + c)) * vload<L>(k + c) +
               vload<L>(b + c);
      if constexpr (kRes) {
        prefetch_ahead<L>(z + r * C + c);
        v = v + vload<L>(z + r * C + c);
      }
      if constexpr (kRelu) v = vmax<L>(v, vsplat<L>(0.0f));
      vput<L>(nt, yr + c, v);
    });
  }
}

void bn_apply(int64_t M, int64_t C, const float* __restrict x, const float* __restrict mean_hi,
              const float* __restrict mean_lo, const float* __restrict scale,
              const float* __restrict beta, const float* __restrict z, bool relu,
              float* __restrict y) {
  const int64_t T = bn_chunks(M);
  const bool nt = stream_rows(y, M * C, C);
#pragma omp parallel for num_threads(threads_for_elements(M * C)) schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const int64_t r0 = t * kBnChunkRows, r1 = std::min(M, r0 + kBnChunkRows);
    if (z && relu)
      apply_rows<true, true>(r0, r1, C, x, mean_hi, mean_lo, scale, beta, z, nt, y);
    else if (z)
      apply_rows<false, true>(r0, r1, C, x, mean_hi, mean_lo, scale, beta, z, nt, y);
    else if (relu)
      apply_rows<true, false>(r0, r1, C, x, mean_hi, mean_lo, scale, beta, z, nt, y);
    else
      apply_rows<false, false>(r0, r1, C, x, mean_hi, mean_lo, scale, beta, z, nt, y);
    if (nt) stream_fence();
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
