#include "eltwise.h"

#include "common.h"

namespace fc {

void relu_forward(int64_t n, const float* x, float* y) {
  FC_CHECK(n >= 0 && x && y, "relu: bad arguments");
  FC_DISPATCH(relu_fwd, n, x, y);
}

void relu_backward(int64_t n, const float* dy, const float* y, float* dx) {
  FC_CHECK(n >= 0 && dy && y && dx, "relu_backward: bad arguments");
  FC_DISPATCH(relu_bwd, n, dy, y, dx);
}

void tanh_backward(int64_t n, const float* dy, const float* y, float* dx) {
  FC_CHECK(n >= 0 && dy && y && dx, "tanh_backward: bad arguments");
  FC_DISPATCH(tanh_bwd, n, dy, y, dx);
}

void sum_relu_backward(int64_t n, const float* a, const float* b, const float* y, float* dx) {
  FC_CHECK(n >= 0 && a && b && y && dx, "sum_relu_backward: bad arguments");
  FC_DISPATCH(sum_relu_bwd, n, a, b, y, dx);
}

void add_forward(int64_t n, const float* a, const float* b, bool relu, float* y) {
  FC_CHECK(n >= 0 && a && b && y, "add: bad arguments");
  FC_DISPATCH(add_fwd, n, a, b, relu, y);
}

void concat_last_axis(int64_t rows, int64_t k, const float* const* xs, const int64_t* widths,
                      float* y) {
  FC_CHECK(rows >= 1 && k >= 1 && xs && widths && y, "concat: bad arguments");
  for (int64_t i = 0; i < k; ++i) FC_CHECK(xs[i] && widths[i] >= 1, "concat: bad input");
  FC_DISPATCH(concat_last, rows, k, xs, widths, y);
}

void split_last_axis(int64_t rows, int64_t k, const float* dy, const int64_t* widths,
                     float* const* outs) {
  FC_CHECK(rows >= 1 && k >= 1 && dy && widths && outs, "concat_backward: bad arguments");
  for (int64_t i = 0; i < k; ++i) FC_CHECK(outs[i] && widths[i] >= 1, "concat_backward: bad");
  FC_DISPATCH(split_last, rows, k, dy, widths, outs);
}

}  // namespace fc
