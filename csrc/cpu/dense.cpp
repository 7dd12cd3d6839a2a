#include "dense.h"

#include "common.h"

namespace fc {

void dense_forward(int64_t N, int64_t C, int64_t K, const float* x, const float* w,
                   const float* b, bool relu, float* y) {
  FC_CHECK(N >= 1 && C >= 1 && K >= 1 && x && w && y, "dense: bad arguments");
  FC_DISPATCH(dense_fwd, N, C, K, x, w, b, relu, y);
}

void dense_backward(int64_t N, int64_t C, int64_t K, const float* dy, const float* x,
                    const float* w, float* dx, float* dw, float* db) {
  FC_CHECK(N >= 1 && C >= 1 && K >= 1 && dy, "dense_backward: bad arguments");
  FC_CHECK(!dx || w, "dense_backward: dx needs w");
  FC_CHECK(!dw || x, "dense_backward: dw needs x");
  if (dx) FC_DISPATCH(dense_bwd_data, N, C, K, dy, w, dx);
  if (dw) FC_DISPATCH(dense_bwd_weight, N, C, K, dy, x, dw);
  if (db) {
    for (int64_t k = 0; k < K; ++k) db[k] = 0.0f;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) db[k] += dy[n * K + k];
  }
}

}  // namespace fc
