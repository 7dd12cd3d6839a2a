// Batch-norm backward kernels: per-chunk partial sums of g and g * (x - mean) (g = dy, masked
// by y > 0 after a fused ReLU; batch_norm_sums.h: one sequential read of the chunk), then
// dx = a * g + b * (x - mean) + k0 per channel, rows in memory order.
#include <algorithm>

#include "batch_norm_sums.h"
#include "cpu/batch_norm.h"
#include "cpu/threads.h"
#include "lanes.h"

namespace fc {
namespace FC_ISA_NS {

// g = dy, masked by y > 0 if kMask. The flags are template parameters so the row loops carry
// no per-element branches.
// Also prefetches the streams it reads, and x (every caller reads x + o next).
template <bool kMask, int L>
FC_INLINE typename Vec<L>::f masked_grad(const float* dy, const float* x, const float* y,
                                         int64_t o) {
  prefetch_ahead<L>(dy + o);
  prefetch_ahead<L>(x + o);
  if constexpr (kMask) prefetch_ahead<L>(y + o);
  const auto g = vload<L>(dy + o);
  if constexpr (!kMask) return g;
  return vselect<L>(vload<L>(y + o) > vsplat<L>(0.0f), g);
}

template <bool kMask, bool kDx>
static void partials_chunk(int64_t r0, int64_t r1, int64_t C, const float* __restrict dy,
                           const float* __restrict x, const float* __restrict y,
                           const float* __restrict mean, double* __restrict sdy,
                           double* __restrict sdyx, const float* __restrict a, bool nt,
                           float* __restrict dx) {
  // Captures by value: kept in registers across the accumulator stores (no reloads).
  bn_chunk_sums<false>(r0, r1, C, sdy, sdyx, [=](auto lanes, int64_t r, int64_t c) {
    constexpr int L = decltype(lanes)::value;
    const int64_t o = r * C + c;
    const auto g = masked_grad<kMask, L>(dy, x, y, o);
    if constexpr (kDx) vput<L>(nt, dx + o, vload<L>(a + c) * g);
    return VPair<L>{g, g * (vload<L>(x + o) - vload<L>(mean + c))};
  });
}

void bn_bwd_partials(int64_t M, int64_t C, const float* __restrict dy,
                     const float* __restrict x, const float* __restrict y,
                     const float* __restrict mean, double* __restrict sdy,
                     double* __restrict sdyx, const float* __restrict a,
                     float* __restrict dx) {
  const int64_t T = bn_chunks(M);
  const bool nt = dx && stream_rows(dx, M * C, C);
  auto run = y ? (dx ? partials_chunk<true, true> : partials_chunk<true, false>)
               : (dx ? partials_chunk<false, true> : partials_chunk<false, false>);
#pragma omp parallel for num_threads(threads_for_elements(M * C)) schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const int64_t r0 = t * kBnChunkRows, r1 = std::min(M, r0 + kBnChunkRows);
    run(r0, r1, C, dy, x, y, mean, sdy + t * C, sdyx + t * C, a, nt, dx);
    if (nt) stream_fence();
  }
}

template <bool kMask>
static void apply_chunk(int64_t r0, int64_t r1, int64_t C, const float* __restrict dy,
                        const float* __restrict x, const float* __restrict y,
                        const float* __restrict mean, const float* __restrict a,
                        const float* __restrict b, const float* __restrict k0, bool nt,
                        float* __restrict dx) {
  for (int64_t r = r0; r < r1; ++r) {
    for_lanes(0, C, [&](auto lanes, int64_t c) {
      constexpr int L = decltype(lanes)::value;
      const int64_t o = r * C + c;
      const auto g = masked_grad<kMask, L>(dy, x, y, o);
      vput<L>(nt, dx + o,
              vload<L>(a + c) * g + vload<L>(b + c) * (vload<L>(x + o) - vload<L>(mean + c)) +
                  vload<L>(k0 + c));
    });
  }
}

void bn_bwd_apply(int64_t M, int64_t C, const float* __restrict dy, const float* __restrict x,
                  const float* __restrict y, const float* __restrict mean,
                  const float* __restrict a, const float* __restrict b,
                  const float* __restrict k0, float* __restrict dx) {
  const int64_t T = bn_chunks(M);
  const bool nt = stream_rows(dx, M * C, C);
#pragma omp parallel for num_threads(threads_for_elements(M * C)) schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const int64_t r0 = t * kBnChunkRows, r1 = std::min(M, r0 + kBnChunkRows);
    if (y)
      apply_chunk<true>(r0, r1, C, dy, x, y, mean, a, b, k0, nt, dx);
    else
      apply_chunk<false>(r0, r1, C, dy, x, y, mean, a, b, k0, nt, dx);
    if (nt) stream_fence();
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
