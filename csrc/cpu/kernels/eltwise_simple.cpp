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

// Runs BODY for i in [0, n) in fixed blocks of kBlock: native vectors (L = kVL), then a tail
// (L = 1). BODY stores with vput(nt, ...): big outputs (`out`) are streamed.
#define FC_ELTWISE_LOOP(n, BODY)                                                   \
  do {                                                                           \
    const int64_t tasks_ = ((n) + kBlock - 1) / kBlock;                          \
    const bool nt = stream_rows(out, (n), kVL);                                  \
    _Pragma("omp parallel for num_threads(num_threads()) schedule(static) if ((n) > kSerial)") \
    for (int64_t t_ = 0; t_ < tasks_; ++t_) {                                    \
      const int64_t i1_ = std::min<int64_t>((n), (t_ + 1) * kBlock);             \
      int64_t i = t_ * kBlock;                                                   \
      for (; i + kVL <= i1_; i += kVL) {                                         \
        constexpr int L = kVL;                                                   \
        BODY;                                                                    \
      }                                                                          \
      for (; i < i1_; ++i) {                                                     \
        constexpr int L = 1;                                                     \
        BODY;                                                                    \
      }                                                                          \
      if (nt) stream_fence();                                                    \
    }                                                                            \
  } while (0)

void relu_fwd(int64_t n, const float* __restrict x, float* __restrict out) {
  FC_ELTWISE_LOOP(n, vput<L>(nt, out + i, vmax<L>(vload<L>(x + i), vsplat<L>(0.0f))));
}

void relu_bwd(int64_t n, const float* __restrict dy, const float* __restrict y,
              float* __restrict out) {
  FC_ELTWISE_LOOP(n, vput<L>(nt, out + i, vselect<L>(vload<L>(y + i) > vsplat<L>(0.0f),
                                                     vload<L>(dy + i))));
}

// dy * (1 - y^2): tanh's gradient from its output, one pass instead of NumPy's three.
void tanh_bwd(int64_t n, const float* __restrict dy, const float* __restrict y,
              float* __restrict out) {
  FC_ELTWISE_LOOP(n, {
    const auto yv = vload<L>(y + i);
    vput<L>(nt, out + i, (vsplat<L>(1.0f) - yv * yv) * vload<L>(dy + i));
  });
}

// (a + b) * (y > 0): reads three arrays and writes one, where an add then a relu_bwd
// moved six.
void sum_relu_bwd(int64_t n, const float* __restrict a, const float* __restrict b,
                  const float* __restrict y, float* __restrict out) {
  FC_ELTWISE_LOOP(n, vput<L>(nt, out + i, vselect<L>(vload<L>(y + i) > vsplat<L>(0.0f),
                                                     vload<L>(a + i) + vload<L>(b + i))));
}

void add_fwd(int64_t n, const float* __restrict a, const float* __restrict b, bool relu,
             float* __restrict out) {
  if (relu)
    FC_ELTWISE_LOOP(n, vput<L>(nt, out + i, vmax<L>(vload<L>(a + i) + vload<L>(b + i),
                                                    vsplat<L>(0.0f))));
  else
    FC_ELTWISE_LOOP(n, vput<L>(nt, out + i, vload<L>(a + i) + vload<L>(b + i)));
}

constexpr int64_t kRowBlock = 256;  // rows per concat/split task

FC_INLINE void copy_run(float* __restrict dst, const float* __restrict src, int64_t n, bool nt) {
  int64_t i = 0;
  for (; i + kVL <= n; i += kVL) vput<kVL>(nt, dst + i, vload<kVL>(src + i));
  for (; i < n; ++i) dst[i] = src[i];
}

// Streaming needs every piece of every row to start on a vector boundary.
static bool stream_pieces(const float* base, int64_t rows, int64_t k, const int64_t* widths) {
  int64_t total = 0;
  for (int64_t i = 0; i < k; ++i) {
    if (widths[i] % kVL) return false;
    total += widths[i];
  }
  return stream_rows(base, rows * total, kVL);
}

void concat_last(int64_t rows, int64_t k, const float* const* xs, const int64_t* widths,
                 float* y) {
  int64_t total = 0;
  for (int64_t i = 0; i < k; ++i) total += widths[i];
  const int64_t tasks = (rows + kRowBlock - 1) / kRowBlock;
  const bool nt = stream_pieces(y, rows, k, widths);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * total > kSerial)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t r1 = std::min(rows, (t + 1) * kRowBlock);
    for (int64_t r = t * kRowBlock; r < r1; ++r) {
      float* dst = y + r * total;
      for (int64_t i = 0; i < k; ++i) {
        copy_run(dst, xs[i] + r * widths[i], widths[i], nt);
        dst += widths[i];
      }
    }
    if (nt) stream_fence();
  }
}

void split_last(int64_t rows, int64_t k, const float* dy, const int64_t* widths,
                float* const* outs) {
  int64_t total = 0;
  for (int64_t i = 0; i < k; ++i) total += widths[i];
  const int64_t tasks = (rows + kRowBlock - 1) / kRowBlock;
  bool nt = stream_pieces(outs[0], rows, k, widths);
  for (int64_t i = 1; i < k; ++i) nt = nt && vec_aligned(outs[i]);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * total > kSerial)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t r1 = std::min(rows, (t + 1) * kRowBlock);
    for (int64_t r = t * kRowBlock; r < r1; ++r) {
      const float* src = dy + r * total;
      for (int64_t i = 0; i < k; ++i) {
        copy_run(outs[i] + r * widths[i], src, widths[i], nt);
        src += widths[i];
      }
    }
    if (nt) stream_fence();
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
