// Element-wise and channel-shape ops on contiguous float32 arrays.
#pragma once
#include <cstdint>

#include "isa.h"

namespace fc {

FC_DECLARE_ISA_FN(void relu_fwd(int64_t n, const float* x, float* y))
FC_DECLARE_ISA_FN(void relu_bwd(int64_t n, const float* dy, const float* y, float* dx))
FC_DECLARE_ISA_FN(void tanh_bwd(int64_t n, const float* dy, const float* y, float* dx))
FC_DECLARE_ISA_FN(void sum_relu_bwd(int64_t n, const float* a, const float* b, const float* y,
                                    float* dx))
FC_DECLARE_ISA_FN(void add_fwd(int64_t n, const float* a, const float* b, bool relu, float* y))
// y[r, offset_i : offset_i + widths[i]] = xs[i][r, :] for rows r (the last axis is joined).
FC_DECLARE_ISA_FN(void concat_last(int64_t rows, int64_t k, const float* const* xs,
                                   const int64_t* widths, float* y))
// The inverse: outs[i][r, :] = dy[r, offset_i : offset_i + widths[i]].
FC_DECLARE_ISA_FN(void split_last(int64_t rows, int64_t k, const float* dy,
                                  const int64_t* widths, float* const* outs))

void relu_forward(int64_t n, const float* x, float* y);
void relu_backward(int64_t n, const float* dy, const float* y, float* dx);  // dy * (y > 0)
void tanh_backward(int64_t n, const float* dy, const float* y, float* dx);  // dy (1 - y^2)
// (a + b) * (y > 0): a ReLU's backward of a gradient that arrives in two parts (a residual
// block's input), one pass instead of an add and a relu_backward.
void sum_relu_backward(int64_t n, const float* a, const float* b, const float* y, float* dx);
void add_forward(int64_t n, const float* a, const float* b, bool relu, float* y);
void concat_last_axis(int64_t rows, int64_t k, const float* const* xs, const int64_t* widths,
                      float* y);
void split_last_axis(int64_t rows, int64_t k, const float* dy, const int64_t* widths,
                     float* const* outs);

}  // namespace fc
