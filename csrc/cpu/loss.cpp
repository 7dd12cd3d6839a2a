#include "loss.h"

#include <string>

#include "common.h"

namespace fc {

double softmax_cross_entropy_with_grad(int64_t n, int64_t k, const float* z,
                                       const int64_t* labels, float* g) {
  FC_CHECK(n >= 1 && k >= 1 && z && labels && g, "softmax_cross_entropy: bad arguments");
  for (int64_t i = 0; i < n; ++i)
    FC_CHECK(labels[i] >= 0 && labels[i] < k,
             "labels: class indices must be in [0, " + std::to_string(k) + "), got " +
                 std::to_string(labels[i]));
  double loss = 0.0;
  FC_DISPATCH(softmax_ce_grad, n, k, z, labels, g, &loss);
  return loss;
}

}  // namespace fc
