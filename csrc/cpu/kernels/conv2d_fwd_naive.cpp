// Convolution forward, the plain version ("naive" variant): one output row per task, the
// channel loop innermost. Correct for every ConvParams; the baseline the fast variants are
// checked against in the tests. Each output element is written by exactly one thread.
#include <algorithm>

#include "cpu/conv2d.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {

void conv2d_fwd_naive(const ConvParams& p, const float* __restrict x, const float* __restrict w,
                      const float* __restrict b, float* __restrict y) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), K = p.K;
  const int64_t rows = p.N * p.P;
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.P, oh = row % p.P;
    for (int64_t ow = 0; ow < p.Q; ++ow) {
      float* __restrict yp = y + ((n * p.P + oh) * p.Q + ow) * K;
      for (int64_t k = 0; k < K; ++k) yp[k] = b ? b[k] : 0.0f;
      for (int64_t r = 0; r < p.R; ++r) {
        const int64_t ih = oh * p.stride_h - p.pad_t + r * p.dil_h;
        if (ih < 0 || ih >= p.H) continue;
        for (int64_t s = 0; s < p.S; ++s) {
          const int64_t iw = ow * p.stride_w - p.pad_l + s * p.dil_w;
          if (iw < 0 || iw >= p.W) continue;
          const float* xp = x + ((n * p.H + ih) * p.W + iw) * p.C;
          const float* wp = w + (r * p.S + s) * Cg * K;
          for (int64_t g = 0; g < p.groups; ++g) {
            float* __restrict yg = yp + g * Kg;
            for (int64_t c = 0; c < Cg; ++c) {
              const float xv = xp[g * Cg + c];
              const float* __restrict wr = wp + c * K + g * Kg;
              for (int64_t k = 0; k < Kg; ++k) yg[k] += xv * wr[k];
            }
          }
        }
      }
      if (p.relu)
        for (int64_t k = 0; k < K; ++k) yp[k] = std::max(yp[k], 0.0f);
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
