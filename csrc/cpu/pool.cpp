#include "pool.h"

#include <algorithm>

#include "common.h"
#include "memory.h"
#include "threads.h"

namespace fc {

constexpr int kMaxPoolScratchSlot = 60;  // fc::workspace slot of the max-pool backward

void PoolParams::finalize() {
  FC_CHECK(N >= 1 && H >= 1 && W >= 1 && C >= 1, "x: every dimension must be >= 1");
  FC_CHECK(KH >= 1 && KW >= 1, "pool_size must be >= 1");
  FC_CHECK(stride_h >= 1 && stride_w >= 1, "stride must be >= 1");
  FC_CHECK(pad_t >= 0 && pad_b >= 0 && pad_l >= 0 && pad_r >= 0, "padding must be >= 0");
  const int64_t lim = int64_t(1) << 40;
  FC_CHECK(H < lim && W < lim && C < lim && KH < lim && KW < lim && stride_h < lim &&
               stride_w < lim,
           "size too large");
  FC_CHECK(pad_t < KH && pad_b < KH && pad_l < KW && pad_r < KW,
           "padding: each side must be smaller than pool_size");
  FC_CHECK(KH <= H + pad_t + pad_b && KW <= W + pad_l + pad_r,
           "pool_size: window is larger than the padded input");
  P = (H + pad_t + pad_b - KH) / stride_h + 1;
  Q = (W + pad_l + pad_r - KW) / stride_w + 1;
}

static void check(const PoolParams& p, const void* a, const void* b) {
  FC_CHECK(p.P >= 1 && p.Q >= 1, "pooling: PoolParams not finalized");
  FC_CHECK(a && b, "pooling: null pointer");
}

void max_pool2d_forward(const PoolParams& p, const float* x, float* y) {
  check(p, x, y);
  FC_DISPATCH(max_pool2d_fwd, p, x, y);
}

void max_pool2d_backward(const PoolParams& p, const float* dy, const float* x, float* dx) {
  check(p, dy, dx);
  FC_CHECK(x, "pooling: null pointer");
  MaxPoolBwdPlan plan;
  const int64_t row_bytes = p.W * p.C * int64_t(sizeof(float));
  // About 512 KiB of dx per band (it is accumulated in L2), 4 to 16 rows: from the shape only.
  plan.band_rows = std::max<int64_t>(4, std::min<int64_t>(16, (int64_t(512) << 10) / row_bytes));
  plan.threads = p.N * p.H * p.W * p.C < (int64_t(1) << 16) ? 1 : num_threads();  // small: no fork
  if (p.N * p.H * row_bytes >= (int64_t(16) << 20))  // big enough to stream (kernel decides)
    plan.scratch = workspace(kMaxPoolScratchSlot, size_t(plan.threads * plan.band_rows) *
                                                      size_t(p.W * p.C));
  FC_DISPATCH(max_pool2d_bwd, p, dy, x, dx, plan);
}

void avg_pool2d_forward(const PoolParams& p, const float* x, float* y) {
  check(p, x, y);
  FC_DISPATCH(avg_pool2d_fwd, p, x, y);
}

void avg_pool2d_backward(const PoolParams& p, const float* dy, float* dx,
                         const float* tanh_y) {
  check(p, dy, dx);
  FC_DISPATCH(avg_pool2d_bwd, p, dy, tanh_y, dx);
}

void global_avg_pool2d_forward(int64_t N, int64_t HW, int64_t C, const float* x, float* y) {
  FC_CHECK(N >= 1 && HW >= 1 && C >= 1 && x && y, "global_avg_pool2d: bad arguments");
  FC_DISPATCH(global_avg_pool2d_fwd, N, HW, C, x, y);
}

void global_avg_pool2d_backward(int64_t N, int64_t HW, int64_t C, const float* dy, float* dx) {
  FC_CHECK(N >= 1 && HW >= 1 && C >= 1 && dy && dx, "global_avg_pool2d: bad arguments");
  FC_DISPATCH(global_avg_pool2d_bwd, N, HW, C, dy, dx);
}

}  // namespace fc
