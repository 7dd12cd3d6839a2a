// Per-chunk, per-channel sums for the batch-norm statistics (forward) and gradient sums
// (backward), over rows [r0, r1) of an (M, C) matrix. Included by kernel files only.
//
// Rows are streamed in memory order. Wide rows (C > 4 native vectors) keep their float
// accumulators in a small per-thread scratch (2*C floats, L1/L2-resident): a loop over
// channel blocks outside the rows would stride through the chunk and read at ~60 % of the
// bandwidth a plain sequential read gets. Narrow rows fit in registers: one channel block
// covers the row, so the rows-inside loop is already sequential.
// Float sums run over kBnFlushRows rows, then are added to the chunk's float64 partials; the
// summation order depends only on the chunk, never on the thread count.
#pragma once
#include <algorithm>

#include "cpu/batch_norm.h"
#include "cpu/memory.h"
#include "lanes.h"

namespace fc {
namespace FC_ISA_NS {

template <int L>
struct VPair {
  typename Vec<L>::f u, v;
};

// term(Lanes<L>{}, r, c) -> VPair<L>: what row r adds to channels [c, c + L).
// p1, p2: this chunk's float64 partials (C each), arriving zeroed. kWide: term may take
// 4-vector blocks (no compares or selects, see for_lanes_wide).
template <bool kWide, class Term>
FC_INLINE void bn_chunk_sums(int64_t r0, int64_t r1, int64_t C, double* __restrict p1,
                             double* __restrict p2, Term&& term) {
  if (C <= (kWide ? 4 : 1) * kVL) {
    auto block = [&](auto lanes, int64_t c) {
      constexpr int L = decltype(lanes)::value;
      for (int64_t f0 = r0; f0 < r1; f0 += kBnFlushRows) {
        const int64_t f1 = std::min(r1, f0 + kBnFlushRows);
        auto a = vsplat<L>(0.0f), b = vsplat<L>(0.0f);
        for (int64_t r = f0; r < f1; ++r) {
          const VPair<L> t = term(lanes, r, c);
          a += t.u;
          b += t.v;
        }
        vadd_to_f64<L>(p1 + c, a);
        vadd_to_f64<L>(p2 + c, b);
      }
    };
    if constexpr (kWide)
      for_lanes_wide(0, C, block);
    else
      for_lanes(0, C, block);
    return;
  }
  // Slot 50: batch-norm sums (each OpenMP thread has its own).
  float* __restrict acc = workspace(50, size_t(2 * C));
  float* __restrict acc2 = acc + C;
  for (int64_t f0 = r0; f0 < r1; f0 += kBnFlushRows) {
    const int64_t f1 = std::min(r1, f0 + kBnFlushRows);
    for_lanes(0, C, [&](auto lanes, int64_t c) {  // the block's first row starts the sums
      constexpr int L = decltype(lanes)::value;
      const VPair<L> t = term(lanes, f0, c);
      vstore<L>(acc + c, t.u);
      vstore<L>(acc2 + c, t.v);
    });
    for (int64_t r = f0 + 1; r < f1; ++r) {
      for_lanes(0, C, [&](auto lanes, int64_t c) {
        constexpr int L = decltype(lanes)::value;
        const VPair<L> t = term(lanes, r, c);
        vstore<L>(acc + c, vload<L>(acc + c) + t.u);
        vstore<L>(acc2 + c, vload<L>(acc2 + c) + t.v);
      });
    }
    for_lanes(0, C, [&](auto lanes, int64_t c) {
      constexpr int L = decltype(lanes)::value;
      vadd_to_f64<L>(p1 + c, vload<L>(acc + c));
      vadd_to_f64<L>(p2 + c, vload<L>(acc2 + c));
    });
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
