// Depthwise convolution forward (groups == C == K, "depthwise" variant): each channel has its
// own R x S filter, so there is no reduction over channels to broadcast; vectorise over the
// channels instead (NHWC keeps them contiguous) with 4 vectors of channels per step. Filter
// taps in the padding are skipped; each output element is written by one thread in a fixed
// (r, s) order.
#include <algorithm>
#include <cstring>

#include "cpu/conv2d.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {
namespace {

#if defined(FC_ISA_avx512)
constexpr int V = 16;
#elif defined(FC_ISA_avx2)
constexpr int V = 8;
#else
constexpr int V = 4;
#endif
typedef float vf __attribute__((vector_size(V * sizeof(float))));
constexpr int NV = 4;  // channel vectors per step

inline vf loadu(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void storeu(float* p, vf v) { std::memcpy(p, &v, sizeof v); }

}  // namespace

void conv2d_fwd_depthwise(const ConvParams& p, const float* __restrict x,
                          const float* __restrict w, const float* __restrict b,
                          float* __restrict y) {
  const int64_t C = p.C, rows = p.N * p.P;
  const int64_t cfull = C / (NV * V) * (NV * V);
#pragma omp parallel for num_threads(threads_for_work(double(rows) * p.Q * C * p.R * p.S)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.P, oh = row % p.P;
    const int64_t ih0 = oh * p.stride_h - p.pad_t;
    int64_t r_lo = 0, r_hi = p.R;
    while (r_lo < p.R && ih0 + r_lo * p.dil_h < 0) ++r_lo;
    while (r_hi > r_lo && ih0 + (r_hi - 1) * p.dil_h >= p.H) --r_hi;
    for (int64_t ow = 0; ow < p.Q; ++ow) {
      const int64_t iw0 = ow * p.stride_w - p.pad_l;
      int64_t s_lo = 0, s_hi = p.S;
      while (s_lo < p.S && iw0 + s_lo * p.dil_w < 0) ++s_lo;
      while (s_hi > s_lo && iw0 + (s_hi - 1) * p.dil_w >= p.W) --s_hi;
      float* yp = y + ((n * p.P + oh) * p.Q + ow) * C;
      for (int64_t c0 = 0; c0 < cfull; c0 += NV * V) {
        vf acc[NV];
        for (int v = 0; v < NV; ++v) acc[v] = b ? loadu(b + c0 + v * V) : vf{};
        for (int64_t r = r_lo; r < r_hi; ++r) {
          const float* xr = x + ((n * p.H + ih0 + r * p.dil_h) * p.W) * C + c0;
          for (int64_t s = s_lo; s < s_hi; ++s) {
            const float* xs = xr + (iw0 + s * p.dil_w) * C;
            const float* ws = w + (r * p.S + s) * C + c0;
            for (int v = 0; v < NV; ++v) acc[v] += loadu(xs + v * V) * loadu(ws + v * V);
          }
        }
        if (p.relu)
          for (int v = 0; v < NV; ++v) acc[v] = acc[v] > vf{} ? acc[v] : vf{};
        for (int v = 0; v < NV; ++v) storeu(yp + c0 + v * V, acc[v]);
      }
      for (int64_t c = cfull; c < C; ++c) {  // channel tail, same (r, s) order
        float acc = b ? b[c] : 0.0f;
        for (int64_t r = r_lo; r < r_hi; ++r)
          for (int64_t s = s_lo; s < s_hi; ++s)
            acc += x[((n * p.H + ih0 + r * p.dil_h) * p.W + iw0 + s * p.dil_w) * C + c] *
                   w[(r * p.S + s) * C + c];
        yp[c] = p.relu ? std::max(acc, 0.0f) : acc;
      }
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
