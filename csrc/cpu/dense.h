// Fully connected layer on row-major float32 matrices: y (N, K) = x (N, C) @ w (C, K) + b.
// Our own kernels instead of NumPy's BLAS: every element is one sum in a fixed order, so the
// result does not depend on the thread count, and no second thread pool (OpenBLAS workers
// spin after each call) competes with the OpenMP threads of the conv kernels on few cores.
#pragma once
#include <cstdint>

#include "isa.h"

namespace fc {

FC_DECLARE_ISA_FN(void dense_fwd(int64_t N, int64_t C, int64_t K, const float* x, const float* w,
                                 const float* b, bool relu, float* y))
// dx (N, C) = dy @ w.T
FC_DECLARE_ISA_FN(void dense_bwd_data(int64_t N, int64_t C, int64_t K, const float* dy,
                                      const float* w, float* dx))
// dw (C, K) = x.T @ dy
FC_DECLARE_ISA_FN(void dense_bwd_weight(int64_t N, int64_t C, int64_t K, const float* dy,
                                        const float* x, float* dw))

// b, dx, dw, db may be null (not wanted); db (K) = sum over rows of dy, in row order.
void dense_forward(int64_t N, int64_t C, int64_t K, const float* x, const float* w,
                   const float* b, bool relu, float* y);
void dense_backward(int64_t N, int64_t C, int64_t K, const float* dy, const float* x,
                    const float* w, float* dx, float* dw, float* db);

}  // namespace fc
