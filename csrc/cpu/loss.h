// Softmax cross-entropy with integer class labels, float32 logits (N, K).
#pragma once
#include <cstdint>

#include "isa.h"

namespace fc {

// *loss = the batch mean -1/N sum_i log softmax(z_i)[label_i], and its gradient
// g = (softmax(z) - onehot(label)) / N. Labels already checked to lie in [0, K).
FC_DECLARE_ISA_FN(void softmax_ce_grad(int64_t n, int64_t k, const float* z,
                                       const int64_t* labels, float* g, double* loss))

// The same, checking the sizes and every label (std::invalid_argument).
double softmax_cross_entropy_with_grad(int64_t n, int64_t k, const float* z,
                                       const int64_t* labels, float* g);

}  // namespace fc
