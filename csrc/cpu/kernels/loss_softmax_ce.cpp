// Softmax cross-entropy and its gradient in one pass, one row at a time (logits are tiny:
// N x classes, 32 x 10 for LeNet): the NumPy version's dozen array calls cost ~50 us a step.
// Same arithmetic as reference.softmax_cross_entropy_with_grad: float32 exponentials of
// z - max, float32 row sums, the loss summed in float64 in row order (one thread).
#include <cmath>

#include "cpu/loss.h"

namespace fc {
namespace FC_ISA_NS {

void softmax_ce_grad(int64_t n, int64_t k, const float* __restrict z,
                     const int64_t* __restrict labels, float* __restrict g, double* loss) {
  const float fn = float(n);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float* zi = z + i * k;
    float* gi = g + i * k;
    float mx = zi[0];
    for (int64_t j = 1; j < k; ++j) mx = zi[j] > mx ? zi[j] : mx;
    float s = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      gi[j] = std::exp(zi[j] - mx);
      s += gi[j];
    }
    const int64_t t = labels[i];
    for (int64_t j = 0; j < k; ++j) gi[j] /= s;
    gi[t] -= 1.0f;
    for (int64_t j = 0; j < k; ++j) gi[j] /= fn;
    total -= double((zi[t] - mx) - std::log(s));  // -log softmax(z_i)[t]
  }
  *loss = total / double(n);
}

}  // namespace FC_ISA_NS
}  // namespace fc
