// Max pooling, NHWC: a window's maximum is the lane-wise max of its taps' contiguous channel
// vectors. Forward: one output row per task. Backward: the argmax is recomputed from x
// instead of being stored (no int64 index array to write in the forward and read back);
// each task owns a fixed band of input rows, so every dx element is written by one thread
// and summed in a fixed order (output row, output column): bitwise the same at any thread
// count. Windows straddling a band edge are evaluated by both bands (about 1/8 extra work).
// Bands of a big dx are accumulated in a per-thread scratch and streamed out.
#include <omp.h>

#include <algorithm>

#include "cpu/pool.h"
#include "cpu/threads.h"
#include "lanes.h"
#include "pool_window.h"

namespace fc {
namespace FC_ISA_NS {

void max_pool2d_fwd(const PoolParams& p, const float* __restrict x, float* __restrict y) {
  const int64_t C = p.C, W = p.W, rows = p.N * p.P;
  const bool nt = stream_rows(y, rows * p.Q * C, C);
#pragma omp parallel for num_threads(threads_for_elements(p.N * p.H * W * C)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.P;
    const WindowRows wr = window_rows(p, row % p.P);
    const int64_t nr = wr.r1 - wr.r0;
    for (int64_t ow = 0; ow < p.Q; ++ow) {
      const WindowCols wc = window_cols(p, ow);
      const int64_t ns = wc.s1 - wc.s0;
      const float* xw = x + ((n * p.H + wr.ih0 + wr.r0) * W + wc.iw0 + wc.s0) * C;
      float* yp = y + (row * p.Q + ow) * C;
      for_lanes_wide(0, C, [&](auto lanes, int64_t c) {
        constexpr int L = decltype(lanes)::value;
        auto m = vload<L>(xw + c);
        for (int64_t r = 0; r < nr; ++r)
          for (int64_t s = 0; s < ns; ++s) m = vmax<L>(m, vload<L>(xw + (r * W + s) * C + c));
        vput<L>(nt, yp + c, m);
      });
    }
    if (nt) stream_fence();
  }
}

void max_pool2d_bwd(const PoolParams& p, const float* __restrict dy, const float* __restrict x,
                    float* __restrict dx, const MaxPoolBwdPlan& plan) {
  const int64_t C = p.C, W = p.W, H = p.H, row = W * C, band = plan.band_rows;
  const int64_t bands = (H + band - 1) / band, tasks = p.N * bands;
  // Big dx: accumulate each band in a per-thread scratch (stays in L2), then stream it out,
  // which saves reading dx from memory for ownership. Small dx: accumulate in place.
  const bool nt = plan.scratch && stream_rows(dx, p.N * H * row, row);
#pragma omp parallel for num_threads(plan.threads) schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t n = t / bands, i0 = (t % bands) * band, i1 = std::min(H, i0 + band);
    const float* xn = x + n * H * row;
    float* out = dx + (n * H + i0) * row;
    float* acc = nt ? plan.scratch + omp_get_thread_num() * band * row : out;
    std::fill(acc, acc + (i1 - i0) * row, 0.0f);
    int64_t oh_lo, oh_hi, unused;
    covering(i0, p.KH, p.stride_h, p.pad_t, p.P, &oh_lo, &unused);
    covering(i1 - 1, p.KH, p.stride_h, p.pad_t, p.P, &unused, &oh_hi);
    for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
      const WindowRows wr = window_rows(p, oh);
      const int64_t nr = wr.r1 - wr.r0, ih_first = wr.ih0 + wr.r0;
      for (int64_t ow = 0; ow < p.Q; ++ow) {
        const WindowCols wc = window_cols(p, ow);
        const int64_t ns = wc.s1 - wc.s0;
        const int64_t col = (wc.iw0 + wc.s0) * C;
        const float* xw = xn + ih_first * row + col;
        const float* g = dy + ((n * p.P + oh) * p.Q + ow) * C;
        float* accw = acc + col;  // + (ih - i0) * row for input row ih
        const int64_t r_lo = std::max<int64_t>(0, i0 - ih_first);  // taps rows in the band
        const int64_t r_hi = std::min<int64_t>(nr, i1 - ih_first);
        const int64_t stride_r = row, stride_s = C;
        const int64_t acc_r0 = ih_first - i0;
        for_lanes(0, C, [&](auto lanes, int64_t c) {
          constexpr int L = decltype(lanes)::value;
          using F = typename Vec<L>::f;
          using I = typename Vec<L>::i;
          // One pass: the maximum and the index of its FIRST tap (strictly greater replaces).
          const float* xc = xw + c;
          F m = vload<L>(xc);
          I idx = I{};
          int32_t tap = 0;
          for (int64_t r = 0; r < nr; ++r)
            for (int64_t s = 0; s < ns; ++s, ++tap) {
              const F v = vload<L>(xc + r * stride_r + s * stride_s);
              const I gt = v > m;
              m = gt ? v : m;
              idx = gt ? (I{} + tap) : idx;
            }
          const F gv = vload<L>(g + c);
          for (int64_t r = r_lo; r < r_hi; ++r) {
            float* d = accw + (acc_r0 + r) * stride_r + c;
            for (int64_t s = 0; s < ns; ++s) {
              const I hit = idx == (I{} + int32_t(r * ns + s));
              vstore<L>(d + s * stride_s, vload<L>(d + s * stride_s) + vselect<L>(hit, gv));
            }
          }
        });
      }
    }
    if (nt) {
      const int64_t n_out = (i1 - i0) * row;  // a multiple of kVL (stream_rows checked)
      for (int64_t k = 0; k < n_out; k += kVL) vstream<kVL>(out + k, vload<kVL>(acc + k));
      stream_fence();
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
