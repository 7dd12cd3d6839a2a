// Adam's update fused into one pass over (w, g, m, v): NumPy needs ten passes and as many
// calls per parameter, which dominated small networks' optimizer step (LeNet-5: 10 arrays
// of 6 to 48k floats per step). Element-wise, so every thread count gives the same bits.
#include <algorithm>
#include <cmath>

#include "cpu/optim.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {

constexpr int64_t kBlock = 1 << 14;   // elements per task
constexpr int64_t kSerial = 1 << 16;  // below this, one thread (the fork costs more)

void adam_step(int64_t n, float* __restrict w, const float* __restrict g, float* __restrict m,
               float* __restrict v, const AdamScalars& s) {
  const float b1 = s.b1, b2 = s.b2, a1 = 1.0f - s.b1, a2 = 1.0f - s.b2;
  const float lr_t = s.lr_t, c2 = s.c2, eps = s.eps, l2 = s.l2, decay = s.decay;
  const int64_t tasks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kSerial)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t i1 = std::min(n, (t + 1) * kBlock);
    for (int64_t i = t * kBlock; i < i1; ++i) {  // auto-vectorised (sqrt without errno)
      const float wi = w[i], gi = g[i] + l2 * wi;
      const float mi = b1 * m[i] + a1 * gi;
      const float vi = b2 * v[i] + a2 * (gi * gi);
      m[i] = mi;
      v[i] = vi;
      w[i] = wi - (lr_t * (mi / (std::sqrt(vi) * c2 + eps)) + decay * wi);
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
