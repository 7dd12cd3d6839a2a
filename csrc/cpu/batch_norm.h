// Batch normalization over the rows of an (M, C) float32 matrix: M = N*H*W pixels of an NHWC
// tensor (or the N rows of a dense layer's output), statistics per channel.
#pragma once
#include <cstdint>

#include "isa.h"

namespace fc {

// Rows per partial-sum chunk. Fixed (never derived from the thread count) and reduced in
// chunk order, so statistics and gradients are bitwise the same at any thread count.
// Inside a chunk, sums run in float over kBnFlushRows rows and are then added to float64
// partials: float-speed loops, float64-grade sums.
constexpr int64_t kBnChunkRows = 256;
constexpr int64_t kBnFlushRows = 32;
inline int64_t bn_chunks(int64_t M) { return (M + kBnChunkRows - 1) / kBnChunkRows; }

// Per chunk t, channel c: s1[t*C+c] = sum (x - shift[c]), s2[t*C+c] = sum (x - shift[c])^2.
FC_DECLARE_ISA_FN(void bn_stats_partials(int64_t M, int64_t C, const float* x,
                                         const float* shift, double* s1, double* s2))
// y = ((x - mean_hi) - mean_lo) * scale + beta, plus z if z != null (a residual), then
// max(y, 0) if relu. The mean comes as a float pair (hi + lo) so large-mean inputs keep their
// precision.
FC_DECLARE_ISA_FN(void bn_apply(int64_t M, int64_t C, const float* x, const float* mean_hi,
                                const float* mean_lo, const float* scale, const float* beta,
                                const float* z, bool relu, float* y))
// Per chunk: sdy = sum g, sdyx = sum g * (x - mean), g = dy masked by (y > 0) if y != null.
// If dx != null, also writes dx = a * g in the same pass (frozen BN: a is known upfront).
FC_DECLARE_ISA_FN(void bn_bwd_partials(int64_t M, int64_t C, const float* dy, const float* x,
                                       const float* y, const float* mean, double* sdy,
                                       double* sdyx, const float* a, float* dx))
// dx = a * g + b * (x - mean) + k0, g as above.
FC_DECLARE_ISA_FN(void bn_bwd_apply(int64_t M, int64_t C, const float* dy, const float* x,
                                    const float* y, const float* mean, const float* a,
                                    const float* b, const float* k0, float* dx))

// Training forward: batch statistics (shifted sums, so large means stay accurate), then y.
// Returns the batch mean and biased variance (float64) and invstd = 1 / sqrt(var + eps).
// residual (nullable, M x C): added to the normalised output before the ReLU, in the same
// pass (a residual block's join: one pass instead of a batch norm and an add).
void batch_norm_forward_train(int64_t M, int64_t C, const float* x, const float* gamma,
                              const float* beta, double eps, bool relu, float* y,
                              double* mean, double* var, float* invstd,
                              const float* residual = nullptr);
// Inference forward with the given (running) statistics.
void batch_norm_forward_infer(int64_t M, int64_t C, const float* x, const float* gamma,
                              const float* beta, const float* mean, const float* var,
                              double eps, bool relu, float* y, const float* residual = nullptr);
// (dx, dgamma, dbeta). y (nullable): the fused-ReLU forward's output, masks dy.
// training=false: mean/invstd are constants, dx = dy * gamma * invstd.
void batch_norm_backward(int64_t M, int64_t C, const float* dy, const float* x, const float* y,
                         const float* gamma, const float* mean, const float* invstd,
                         bool training, float* dx, float* dgamma, float* dbeta);

}  // namespace fc
