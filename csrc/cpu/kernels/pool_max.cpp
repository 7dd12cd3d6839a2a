// Max pooling, NHWC: a window's maximum is the lane-wise max of its taps' contiguous channel
// vectors. Forward: one output row per task. Backward: the argmax is recomputed from x
// instead of being stored (no int64 index array to write in the forward and read back);
// each task owns a fixed band of input rows, so every dx element is written by one thread
// and summed in a fixed order (output row, output column): bitwise the same at any thread
// count. Windows straddling a band edge are evaluated by both bands (about 1/8 extra work).
#include <algorithm>

#include "cpu/pool.h"
#include "cpu/threads.h"
#include "lanes.h"
#include "pool_window.h"

namespace fc {
namespace FC_ISA_NS {

void max_pool2d_fwd(const PoolParams& p, const float* __restrict x, float* __restrict y) {
  const int64_t C = p.C, W = p.W, rows = p.N * p.P;
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.P;
    const WindowRows wr = window_rows(p, row % p.P);
    const int64_t nr = wr.r1 - wr.r0;
    for (int64_t ow = 0; ow < p.Q; ++ow) {
      const WindowCols wc = window_cols(p, ow);
      const int64_t ns = wc.s1 - wc.s0;
      const float* xw = x + ((n * p.H + wr.ih0 + wr.r0) * W + wc.iw0 + wc.s0) * C;
      float* yp = y + (row * p.Q + ow) * C;
      for_lanes(0, C, [&](auto lanes, int64_t c) {
        constexpr int L = decltype(lanes)::value;
        auto m = vload<L>(xw + c);
        for (int64_t r = 0; r < nr; ++r)
          for (int64_t s = 0; s < ns; ++s) m = vmax<L>(m, vload<L>(xw + (r * W + s) * C + c));
        vstore<L>(yp + c, m);
      });
    }
  }
}

constexpr int64_t kBand = 16;  // input rows per backward task; fixed, never from thread count

void max_pool2d_bwd(const PoolParams& p, const float* __restrict dy, const float* __restrict x,
                    float* __restrict dx) {
  const int64_t C = p.C, W = p.W, H = p.H;
  const int64_t bands = (H + kBand - 1) / kBand, tasks = p.N * bands;
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t n = t / bands, i0 = (t % bands) * kBand, i1 = std::min(H, i0 + kBand);
    const float* xn = x + n * H * W * C;
    float* dxn = dx + n * H * W * C;
    std::fill(dxn + i0 * W * C, dxn + i1 * W * C, 0.0f);
    int64_t oh_lo, oh_hi, unused;
    covering(i0, p.KH, p.stride_h, p.pad_t, p.P, &oh_lo, &unused);
    covering(i1 - 1, p.KH, p.stride_h, p.pad_t, p.P, &unused, &oh_hi);
    for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
      const WindowRows wr = window_rows(p, oh);
      const int64_t nr = wr.r1 - wr.r0, ih_first = wr.ih0 + wr.r0;
      for (int64_t ow = 0; ow < p.Q; ++ow) {
        const WindowCols wc = window_cols(p, ow);
        const int64_t ns = wc.s1 - wc.s0;
        const int64_t off = (ih_first * W + wc.iw0 + wc.s0) * C;
        const float* xw = xn + off;
        float* dxw = dxn + off;
        const float* g = dy + ((n * p.P + oh) * p.Q + ow) * C;
        for_lanes(0, C, [&](auto lanes, int64_t c) {
          constexpr int L = decltype(lanes)::value;
          using I = typename Vec<L>::i;
          auto m = vload<L>(xw + c);
          for (int64_t r = 0; r < nr; ++r)
            for (int64_t s = 0; s < ns; ++s)
              m = vmax<L>(m, vload<L>(xw + (r * W + s) * C + c));
          const auto gv = vload<L>(g + c);
          I taken = I{};
          for (int64_t r = 0; r < nr; ++r) {
            const int64_t ih = ih_first + r;
            if (ih >= i1) break;
            for (int64_t s = 0; s < ns; ++s) {
              const int64_t o = (r * W + s) * C + c;
              const I hit = (vload<L>(xw + o) == m) & ~taken;  // first maximum only
              taken |= hit;
              if (ih >= i0) vstore<L>(dxw + o, vload<L>(dxw + o) + vselect<L>(hit, gv));
            }
          }
        });
      }
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
