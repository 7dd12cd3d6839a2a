// Average and global-average pooling, NHWC, vectorised over the contiguous channels.
// Forward: one output row per task. Backward: a gather, one input row per task: each dx
// element sums dy / count over the windows covering it, in a fixed order (output row, then
// column), so no zeroing pass, no atomics, and bitwise the same at any thread count.
#include <algorithm>

#include "cpu/memory.h"
#include "cpu/pool.h"
#include "cpu/threads.h"
#include "lanes.h"
#include "pool_window.h"

namespace fc {
namespace FC_ISA_NS {

constexpr int kAvgScaleSlot = 59;  // fc::workspace slot of the backward's window scales
constexpr int64_t kFewChannels = 16;  // fewer channels: the channel loop goes innermost

void avg_pool2d_fwd(const PoolParams& p, const float* __restrict x, float* __restrict y) {
  const int64_t C = p.C, W = p.W, rows = p.N * p.P;
  const float area = float(p.KH * p.KW);
  const bool nt = stream_rows(y, rows * p.Q * C, C);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.P;
    const WindowRows wr = window_rows(p, row % p.P);
    const int64_t nr = wr.r1 - wr.r0;
    for (int64_t ow = 0; ow < p.Q; ++ow) {
      const WindowCols wc = window_cols(p, ow);
      const int64_t ns = wc.s1 - wc.s0;
      const float inv = 1.0f / (p.count_include_pad ? area : float(nr * ns));
      const float* xw = x + ((n * p.H + wr.ih0 + wr.r0) * W + wc.iw0 + wc.s0) * C;
      float* yp = y + (row * p.Q + ow) * C;
      if (C < kFewChannels) {  // taps outside, channels inside: the same sums, one pass
        float acc[kFewChannels] = {};
        for (int64_t r = 0; r < nr; ++r)
          for (int64_t s = 0; s < ns; ++s)
            for (int64_t c = 0; c < C; ++c) acc[c] += xw[(r * W + s) * C + c];
        for (int64_t c = 0; c < C; ++c) yp[c] = acc[c] * inv;
        continue;
      }
      for_lanes_wide(0, C, [&](auto lanes, int64_t c) {
        constexpr int L = decltype(lanes)::value;
        auto acc = vsplat<L>(0.0f);
        for (int64_t r = 0; r < nr; ++r)
          for (int64_t s = 0; s < ns; ++s) acc += vload<L>(xw + (r * W + s) * C + c);
        vput<L>(nt, yp + c, acc * inv);
      });
    }
    if (nt) stream_fence();
  }
}

void avg_pool2d_bwd(const PoolParams& p, const float* __restrict dy, float* __restrict dx) {
  const int64_t C = p.C, W = p.W, rows = p.N * p.H;
  const float area = float(p.KH * p.KW);
  const bool nt = stream_rows(dx, rows * W * C, C);
  // 1 / count of every window, computed once: the per-pixel loop below runs once per channel
  // (vector) chunk, and with few channels (LeNet: 6) the window geometry dominated it.
  float* inv = workspace(kAvgScaleSlot, size_t(p.P * p.Q));
  for (int64_t oh = 0; oh < p.P; ++oh) {
    const WindowRows wr = window_rows(p, oh);
    for (int64_t ow = 0; ow < p.Q; ++ow) {
      const WindowCols wc = window_cols(p, ow);
      const float cnt = p.count_include_pad ? area : float((wr.r1 - wr.r0) * (wc.s1 - wc.s0));
      inv[oh * p.Q + ow] = 1.0f / cnt;
    }
  }
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.H, ih = row % p.H;
    int64_t oh_lo, oh_hi;
    covering(ih, p.KH, p.stride_h, p.pad_t, p.P, &oh_lo, &oh_hi);
    int64_t ow_lo, ow_hi;
    covering(0, p.KW, p.stride_w, p.pad_l, p.Q, &ow_lo, &ow_hi);
    for (int64_t iw = 0; iw < W; ++iw) {
      // The covering output columns only move right as iw grows: update without dividing.
      while (ow_lo < p.Q && ow_lo * p.stride_w - p.pad_l + p.KW <= iw) ++ow_lo;
      while (ow_hi + 1 < p.Q && (ow_hi + 1) * p.stride_w - p.pad_l <= iw) ++ow_hi;
      float* d = dx + (row * W + iw) * C;
      if (C < kFewChannels) {  // windows outside, channels inside: the same sums, one pass
        float acc[kFewChannels] = {};
        for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
          const float* g = dy + (n * p.P + oh) * p.Q * C;
          const float* sc = inv + oh * p.Q;
          for (int64_t ow = ow_lo; ow <= ow_hi; ++ow)
            for (int64_t c = 0; c < C; ++c) acc[c] += g[ow * C + c] * sc[ow];
        }
        for (int64_t c = 0; c < C; ++c) d[c] = acc[c];
        continue;
      }
      for_lanes_wide(0, C, [&](auto lanes, int64_t c) {
        constexpr int L = decltype(lanes)::value;
        auto acc = vsplat<L>(0.0f);
        for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
          const float* g = dy + (n * p.P + oh) * p.Q * C + c;
          const float* sc = inv + oh * p.Q;
          for (int64_t ow = ow_lo; ow <= ow_hi; ++ow) acc += vload<L>(g + ow * C) * sc[ow];
        }
        vput<L>(nt, d + c, acc);
      });
    }
    if (nt) stream_fence();
  }
}

constexpr int64_t kChannelBlock = 64;  // channels per global-pool task

void global_avg_pool2d_fwd(int64_t N, int64_t HW, int64_t C, const float* __restrict x,
                           float* __restrict y) {
  const int64_t blocks = (C + kChannelBlock - 1) / kChannelBlock, tasks = N * blocks;
  const float inv = 1.0f / float(HW);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t n = t / blocks, c0 = (t % blocks) * kChannelBlock;
    const float* xn = x + n * HW * C;
    for_lanes_wide(c0, std::min(C, c0 + kChannelBlock), [&](auto lanes, int64_t c) {
      constexpr int L = decltype(lanes)::value;
      auto acc = vsplat<L>(0.0f);
      for (int64_t i = 0; i < HW; ++i) acc += vload<L>(xn + i * C + c);
      vstore<L>(y + n * C + c, acc * inv);
    });
  }
}

constexpr int64_t kPixelBlock = 64;  // pixels per global-pool backward task

void global_avg_pool2d_bwd(int64_t N, int64_t HW, int64_t C, const float* __restrict dy,
                           float* __restrict dx) {
  const int64_t blocks = (HW + kPixelBlock - 1) / kPixelBlock, tasks = N * blocks;
  const float inv = 1.0f / float(HW);
  const bool nt = stream_rows(dx, N * HW * C, C);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t n = t / blocks, i0 = (t % blocks) * kPixelBlock;
    const int64_t i1 = std::min(HW, i0 + kPixelBlock);
    for (int64_t i = i0; i < i1; ++i) {
      float* d = dx + (n * HW + i) * C;
      for_lanes_wide(0, C, [&](auto lanes, int64_t c) {
        constexpr int L = decltype(lanes)::value;
        vput<L>(nt, d + c, vload<L>(dy + n * C + c) * inv);
      });
    }
    if (nt) stream_fence();
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
