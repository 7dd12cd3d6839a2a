// Element-wise ops (ReLU, residual add) and last-axis concat/split: streaming loops over
// fixed blocks, one writer per output element.
#include <algorithm>
#include <cstring>

#include "cpu/eltwise.h"
#include "cpu/threads.h"
#include "lanes.h"

namespace fc {
namespace FC_ISA_NS {

constexpr int64_t kBlock = 1 << 14;     // elements per task
constexpr int64_t kSerial = 1 << 15;    // below this, one thread (the fork costs more)

template <class F>
FC_INLINE void blocks(int64_t n, F&& f) {
  const int64_t tasks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kSerial)
  for (int64_t t = 0; t < tasks; ++t) f(t * kBlock, std::min(n, (t + 1) * kBlock));
}

void relu_fwd(int64_t n, const float* __restrict x, float* __restrict y) {
  blocks(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  });
}

void relu_bwd(int64_t n, const float* __restrict dy, const float* __restrict y,
              float* __restrict dx) {
  blocks(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  });
}

void add_fwd(int64_t n, const float* __restrict a, const float* __restrict b, bool relu,
             float* __restrict y) {
  blocks(n, [&](int64_t i0, int64_t i1) {
    if (relu) {
      for (int64_t i = i0; i < i1; ++i) {
        const float s = a[i] + b[i];
        y[i] = s > 0.0f ? s : 0.0f;
      }
    } else {
      for (int64_t i = i0; i < i1; ++i) y[i] = a[i] + b[i];
    }
  });
}

constexpr int64_t kRowBlock = 256;  // rows per concat/split task

void concat_last(int64_t rows, int64_t k, const float* const* xs, const int64_t* widths,
                 float* y) {
  int64_t total = 0;
  for (int64_t i = 0; i < k; ++i) total += widths[i];
  const int64_t tasks = (rows + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * total > kSerial)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t r1 = std::min(rows, (t + 1) * kRowBlock);
    for (int64_t r = t * kRowBlock; r < r1; ++r) {
      float* dst = y + r * total;
      for (int64_t i = 0; i < k; ++i) {
        std::memcpy(dst, xs[i] + r * widths[i], sizeof(float) * widths[i]);
        dst += widths[i];
      }
    }
  }
}

void split_last(int64_t rows, int64_t k, const float* dy, const int64_t* widths,
                float* const* outs) {
  int64_t total = 0;
  for (int64_t i = 0; i < k; ++i) total += widths[i];
  const int64_t tasks = (rows + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * total > kSerial)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t r1 = std::min(rows, (t + 1) * kRowBlock);
    for (int64_t r = t * kRowBlock; r < r1; ++r) {
      const float* src = dy + r * total;
      for (int64_t i = 0; i < k; ++i) {
        std::memcpy(outs[i] + r * widths[i], src, sizeof(float) * widths[i]);
        src += widths[i];
      }
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
