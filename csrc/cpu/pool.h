// 2-D max / average / global-average pooling, NHWC float32, forward and backward.
#pragma once
#include <cstdint>

#include "isa.h"

namespace fc {

struct PoolParams {
  int64_t N = 0, H = 0, W = 0, C = 0;       // input (N, H, W, C)
  int64_t KH = 1, KW = 1;                   // window
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_t = 0, pad_b = 0, pad_l = 0, pad_r = 0;  // each side < the window
  bool count_include_pad = false;           // avg: divide by the window area, not real cells
  int64_t P = 0, Q = 0;                     // output (N, P, Q, C), filled by finalize()

  // Checks every size and computes P, Q; throws std::invalid_argument naming the culprit.
  void finalize();
};

// How the max-pool backward splits its work: tasks own bands of band_rows input rows (a
// function of the shape only); scratch (nullable) holds threads * band_rows * W * C floats.
struct MaxPoolBwdPlan {
  int64_t band_rows = 16;
  int threads = 1;
  float* scratch = nullptr;
};

FC_DECLARE_ISA_FN(void max_pool2d_fwd(const PoolParams& p, const float* x, float* y))
FC_DECLARE_ISA_FN(void max_pool2d_bwd(const PoolParams& p, const float* dy, const float* x,
                                      float* dx, const MaxPoolBwdPlan& plan))
FC_DECLARE_ISA_FN(void avg_pool2d_fwd(const PoolParams& p, const float* x, float* y))
// tanh_y (optional, x's shape): the pooled x was tanh's output; dx is then multiplied by
// 1 - tanh_y^2, the gradient with respect to tanh's input.
FC_DECLARE_ISA_FN(void avg_pool2d_bwd(const PoolParams& p, const float* dy,
                                      const float* tanh_y, float* dx))
FC_DECLARE_ISA_FN(void global_avg_pool2d_fwd(int64_t N, int64_t HW, int64_t C, const float* x,
                                             float* y))
FC_DECLARE_ISA_FN(void global_avg_pool2d_bwd(int64_t N, int64_t HW, int64_t C, const float* dy,
                                             float* dx))

void max_pool2d_forward(const PoolParams& p, const float* x, float* y);
// dx of max pooling. The argmax is recomputed from x (no index array is stored): each
// window's dy goes to its FIRST maximum in row-major window order; padding never wins.
void max_pool2d_backward(const PoolParams& p, const float* dy, const float* x, float* dx);
void avg_pool2d_forward(const PoolParams& p, const float* x, float* y);
void avg_pool2d_backward(const PoolParams& p, const float* dy, float* dx,
                         const float* tanh_y = nullptr);
void global_avg_pool2d_forward(int64_t N, int64_t HW, int64_t C, const float* x, float* y);
void global_avg_pool2d_backward(int64_t N, int64_t HW, int64_t C, const float* dy, float* dx);

}  // namespace fc
