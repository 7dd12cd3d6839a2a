// Optimizer updates, in place on float32 parameter and state arrays.
#pragma once
#include <cstdint>

#include "isa.h"

namespace fc {

// Scalars of one Adam step, the bias corrections folded in by the caller (t = the step):
//   g = grad + l2 * w;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   w -= lr_t * m / (sqrt(v) * c2 + eps) + decay * w
// with lr_t = lr / (1 - b1^t), c2 = 1 / sqrt(1 - b2^t), decay = lr * weight_decay (AdamW).
struct AdamScalars {
  float lr_t, b1, b2, c2, eps, l2, decay;
};

FC_DECLARE_ISA_FN(void adam_step(int64_t n, float* w, const float* g, float* m, float* v,
                                 const AdamScalars& s))

void adam_update(int64_t n, float* w, const float* g, float* m, float* v, const AdamScalars& s);

// Adam on `count` arrays, array i of n[i] elements with its own scalars s[i] (per-parameter
// step counts): adam_update on each in turn, so the same bits as one call per array. One
// crossing from Python per optimizer step instead of one per parameter (LeNet-5: 10).
void adam_update_multi(int64_t count, const int64_t* n, float* const* w, const float* const* g,
                       float* const* m, float* const* v, const AdamScalars* s);

}  // namespace fc
