// The part of a pooling window that lies on real input cells (padding is skipped, never read).
#pragma once
#include <algorithm>
#include <cstdint>

#include "cpu/pool.h"

namespace fc {
namespace FC_ISA_NS {

struct WindowRows {
  int64_t ih0, r0, r1;  // first input row of the window (may be < 0); valid taps [r0, r1)
};
struct WindowCols {
  int64_t iw0, s0, s1;
};

inline WindowRows window_rows(const PoolParams& p, int64_t oh) {
  const int64_t ih0 = oh * p.stride_h - p.pad_t;
  return {ih0, std::max<int64_t>(0, -ih0), std::min(p.KH, p.H - ih0)};
}
inline WindowCols window_cols(const PoolParams& p, int64_t ow) {
  const int64_t iw0 = ow * p.stride_w - p.pad_l;
  return {iw0, std::max<int64_t>(0, -iw0), std::min(p.KW, p.W - iw0)};
}

// Output indices o in [lo, hi] whose window [o*stride - pad, ... + k) covers input index i.
inline void covering(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t n_out,
                     int64_t* lo, int64_t* hi) {
  const int64_t num = i + pad - k + 1;
  *lo = num <= 0 ? 0 : (num + stride - 1) / stride;
  *hi = std::min(n_out - 1, (i + pad) / stride);
}

}  // namespace FC_ISA_NS
}  // namespace fc
