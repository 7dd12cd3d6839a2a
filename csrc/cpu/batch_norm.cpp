// Batch-norm drivers: per-chunk partial sums from the kernels, reduced here in chunk order in
// float64, then one element-wise pass with per-channel coefficients.
#include "batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "memory.h"

namespace fc {

static void check_sizes(int64_t M, int64_t C) {
  FC_CHECK(M >= 1 && C >= 1, "batch_norm: x must have at least one row and one channel");
  FC_CHECK(M < (int64_t(1) << 40) && C < (int64_t(1) << 40), "batch_norm: size too large");
}

// n zeroed doubles for the chunk partials, from the calling thread's workspace (slot 51): a
// fresh std::vector of this size (0.8 MB for a ResNet res2 batch) is mmapped and page-faults
// on every call.
static double* zeroed_partials(int64_t n) {
  double* p = reinterpret_cast<double*>(workspace(51, size_t(2 * n)));
  std::fill(p, p + n, 0.0);
  return p;
}

// p[c] = p[c] + p[C + c] + ... + p[(T-1)*C + c], added in chunk order (the fixed order that
// makes the sums thread-count independent); rows are walked contiguously.
static void add_chunks_in_order(int64_t T, int64_t C, double* p) {
  for (int64_t t = 1; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) p[c] += p[t * C + c];
}

// Splits a float64 mean into hi + lo floats: (x - hi) - lo keeps float64-like accuracy.
static void split_mean(double m, float* hi, float* lo) {
  *hi = static_cast<float>(m);
  *lo = static_cast<float>(m - static_cast<double>(*hi));
}

void batch_norm_forward_train(int64_t M, int64_t C, const float* x, const float* gamma,
                              const float* beta, double eps, bool relu, float* y,
                              double* mean, double* var, float* invstd,
                              const float* residual) {
  check_sizes(M, C);
  FC_CHECK(x && gamma && beta && y && mean && var && invstd, "batch_norm: null pointer");
  FC_CHECK(eps > 0, "eps must be > 0");
  const int64_t T = bn_chunks(M);
  double* s1 = zeroed_partials(2 * T * C);
  double* s2 = s1 + T * C;
  // Shifting by the first row's value keeps the sums small for large-mean inputs.
  FC_DISPATCH(bn_stats_partials, M, C, x, x, s1, s2);
  add_chunks_in_order(T, C, s1);
  add_chunks_in_order(T, C, s2);
  std::vector<float> hi(C), lo(C), scale(C);
  for (int64_t c = 0; c < C; ++c) {
    const double d = s1[c] / double(M);
    mean[c] = double(x[c]) + d;
    var[c] = std::max(0.0, s2[c] / double(M) - d * d);
    const double inv = 1.0 / std::sqrt(var[c] + eps);
    invstd[c] = static_cast<float>(inv);
    scale[c] = static_cast<float>(double(gamma[c]) * inv);
    split_mean(mean[c], &hi[c], &lo[c]);
  }
  FC_DISPATCH(bn_apply, M, C, x, hi.data(), lo.data(), scale.data(), beta, residual, relu, y);
}

void batch_norm_forward_infer(int64_t M, int64_t C, const float* x, const float* gamma,
                              const float* beta, const float* mean, const float* var,
                              double eps, bool relu, float* y, const float* residual) {
  check_sizes(M, C);
  FC_CHECK(x && gamma && beta && mean && var && y, "batch_norm: null pointer");
  FC_CHECK(eps > 0, "eps must be > 0");
  std::vector<float> hi(C), lo(C), scale(C);
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = static_cast<float>(double(gamma[c]) / std::sqrt(double(var[c]) + eps));
    split_mean(mean[c], &hi[c], &lo[c]);
  }
  FC_DISPATCH(bn_apply, M, C, x, hi.data(), lo.data(), scale.data(), beta, residual, relu, y);
}

void batch_norm_backward(int64_t M, int64_t C, const float* dy, const float* x, const float* y,
                         const float* gamma, const float* mean, const float* invstd,
                         bool training, float* dx, float* dgamma, float* dbeta) {
  check_sizes(M, C);
  FC_CHECK(dy && x && gamma && mean && invstd && dx && dgamma && dbeta,
           "batch_norm_backward: null pointer");
  const int64_t T = bn_chunks(M);
  double* sdy = zeroed_partials(2 * T * C);
  double* sdyx = sdy + T * C;
  std::vector<float> a(C), b(C), k0(C);
  for (int64_t c = 0; c < C; ++c) a[c] = static_cast<float>(double(gamma[c]) * invstd[c]);
  // Frozen BN (training=false): dx = a * g needs no sums, so it is written in the same pass.
  FC_DISPATCH(bn_bwd_partials, M, C, dy, x, y, mean, sdy, sdyx, a.data(),
              training ? nullptr : dx);
  add_chunks_in_order(T, C, sdy);
  add_chunks_in_order(T, C, sdyx);
  for (int64_t c = 0; c < C; ++c) {
    const double g = sdy[c], gx = sdyx[c];
    const double inv = invstd[c], k = double(gamma[c]) * inv, dg = gx * inv;
    dbeta[c] = static_cast<float>(g);
    dgamma[c] = static_cast<float>(dg);
    b[c] = static_cast<float>(-k * inv * dg / double(M));
    k0[c] = static_cast<float>(-k * g / double(M));
  }
  if (training)
    FC_DISPATCH(bn_bwd_apply, M, C, dy, x, y, mean, a.data(), b.data(), k0.data(), dx);
}

}  // namespace fc
