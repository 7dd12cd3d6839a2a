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

// Few channels (LeNet: 6, 16): one output pixel's window summed with the channel count a
// compile-time constant, taps outside, channels inside (the same sums as the vector path).
template <int CC>
void avg_fwd_few(const PoolParams& p, const float* __restrict x, float* __restrict y) {
  const int64_t W = p.W, rows = p.N * p.P;
  const float area = float(p.KH * p.KW);
#pragma omp parallel for num_threads(threads_for_elements(p.N * p.H * W * CC)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.P;
    const WindowRows wr = window_rows(p, row % p.P);
    const int64_t nr = wr.r1 - wr.r0;
    const float* xr = x + ((n * p.H + wr.ih0 + wr.r0) * W) * CC;
    for (int64_t ow = 0; ow < p.Q; ++ow) {
      const WindowCols wc = window_cols(p, ow);
      const int64_t ns = wc.s1 - wc.s0;
      const float inv = 1.0f / (p.count_include_pad ? area : float(nr * ns));
      const float* xw = xr + (wc.iw0 + wc.s0) * CC;
      float acc[CC] = {};
      for (int64_t r = 0; r < nr; ++r)
        for (int64_t s = 0; s < ns; ++s)
#pragma GCC unroll 16
          for (int c = 0; c < CC; ++c) acc[c] += xw[(r * W + s) * CC + c];
      float* yp = y + (row * p.Q + ow) * CC;
#pragma GCC unroll 16
      for (int c = 0; c < CC; ++c) yp[c] = acc[c] * inv;
    }
  }
}

// Up to 16 channels, 2x2 windows at stride 2 without padding (LeNet's S2 and S4): every
// window is whole (1/4 whatever count_include_pad), so no window geometry or divide per pixel
// (3x faster on 28x28x6 and 10x10x16); the sums in the other paths' order (same bits).
template <int CC>
void avg_fwd_few_2x2(const PoolParams& p, const float* __restrict x, float* __restrict y) {
  const int64_t W = p.W, Q = p.Q, rows = p.N * p.P;
#pragma omp parallel for num_threads(threads_for_elements(p.N * p.H * W * CC)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.P, oh = row % p.P;
    const float* __restrict x0 = x + (n * p.H + 2 * oh) * W * CC;
    const float* __restrict x1 = x0 + W * CC;
    float* __restrict yp = y + row * Q * CC;
    for (int64_t ow = 0; ow < Q; ++ow) {
      const int64_t a = 2 * ow * CC;
#pragma GCC unroll 16
      for (int c = 0; c < CC; ++c) {
        float acc = 0.0f;
        acc += x0[a + c];
        acc += x0[a + CC + c];
        acc += x1[a + c];
        acc += x1[a + CC + c];
        yp[ow * CC + c] = acc * 0.25f;
      }
    }
  }
}

void avg_pool2d_fwd(const PoolParams& p, const float* __restrict x, float* __restrict y) {
  const bool whole_2x2 = p.KH == 2 && p.KW == 2 && p.stride_h == 2 && p.stride_w == 2 &&
                         p.pad_t == 0 && p.pad_b == 0 && p.pad_l == 0 && p.pad_r == 0;
  if (with_few_channels(p.C, [&](auto cc) {
        constexpr int CC = decltype(cc)::value;
        if (whole_2x2) avg_fwd_few_2x2<CC>(p, x, y);
        else avg_fwd_few<CC>(p, x, y);
      }))
    return;
  if (whole_2x2 && p.C == 16) return avg_fwd_few_2x2<16>(p, x, y);  // LeNet's S4
  const int64_t C = p.C, W = p.W, rows = p.N * p.P;
  const float area = float(p.KH * p.KW);
  const bool nt = stream_rows(y, rows * p.Q * C, C);
#pragma omp parallel for num_threads(threads_for_elements(p.N * p.H * W * C)) schedule(static)
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

// d[i] *= 1 - y[i]^2 over one dx row still in L1: the gradient through the tanh whose output
// y was pooled (conv -> tanh -> pool), the same arithmetic as tanh_backward, without its
// second pass over the whole dx in memory.
inline void times_tanh_grad(float* __restrict d, const float* __restrict y, int64_t n) {
  int64_t i = 0;
  for (; i + kVL <= n; i += kVL) {
    const auto yv = vload<kVL>(y + i);
    vstore<kVL>(d + i, (vsplat<kVL>(1.0f) - yv * yv) * vload<kVL>(d + i));
  }
  for (; i < n; ++i) {
    const auto yv = vload<1>(y + i);
    vstore<1>(d + i, (vsplat<1>(1.0f) - yv * yv) * vload<1>(d + i));
  }
}

// Few channels, windows that do not overlap (stride >= pool size: LeNet's 2x2 / 2): each
// input pixel lies in at most one window, so its gradient is that window's dy times 1 /
// count (the gather below reduces to the same single product), zero outside every window.
template <int CC>
void avg_bwd_few_disjoint(const PoolParams& p, const float* __restrict dy,
                          const float* __restrict inv, const float* __restrict ty,
                          float* __restrict dx) {
  const int64_t W = p.W, rows = p.N * p.H;
#pragma omp parallel for num_threads(threads_for_elements(rows * W * CC)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.H, ih = row % p.H;
    float* __restrict d = dx + row * W * CC;
    for (int64_t i = 0; i < W * CC; ++i) d[i] = 0.0f;
    const int64_t oh = (ih + p.pad_t) / p.stride_h;
    if ((ih + p.pad_t) % p.stride_h >= p.KH || oh >= p.P) {
      if (ty) times_tanh_grad(d, ty + row * W * CC, W * CC);
      continue;
    }
    const float* g = dy + (n * p.P + oh) * p.Q * CC;
    const float* sc = inv + oh * p.Q;
    for (int64_t ow = 0; ow < p.Q; ++ow) {
      float v[CC];
#pragma GCC unroll 16
      for (int c = 0; c < CC; ++c) v[c] = g[ow * CC + c] * sc[ow];
      const int64_t iw0 = ow * p.stride_w - p.pad_l;
      const int64_t s0 = std::max<int64_t>(0, -iw0), s1 = std::min(p.KW, W - iw0);
      for (int64_t s = s0; s < s1; ++s)
#pragma GCC unroll 16
        for (int c = 0; c < CC; ++c) d[(iw0 + s) * CC + c] = v[c];
    }
    if (ty) times_tanh_grad(d, ty + row * W * CC, W * CC);
  }
}

// Up to 16 channels, whole 2x2 windows at stride 2 (no padding; LeNet's S2 and S4): each
// input pixel of the first 2P rows and 2Q columns takes its window's dy / 4, the rest 0. No
// window geometry per pixel (the disjoint paths' scale is 1 / 4 here too: same bits).
template <int CC>
void avg_bwd_few_2x2(const PoolParams& p, const float* __restrict dy, const float* __restrict ty,
                     float* __restrict dx) {
  const int64_t W = p.W, Q = p.Q, rows = p.N * p.H;
#pragma omp parallel for num_threads(threads_for_elements(rows * W * CC)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.H, ih = row % p.H, oh = ih / 2;
    float* __restrict d = dx + row * W * CC;
    int64_t i = 0;
    if (oh < p.P) {
      const float* __restrict g = dy + (n * p.P + oh) * Q * CC;
      for (int64_t ow = 0; ow < Q; ++ow) {
#pragma GCC unroll 16
        for (int c = 0; c < CC; ++c) {
          const float v = g[ow * CC + c] * 0.25f;
          d[2 * ow * CC + c] = v;
          d[(2 * ow + 1) * CC + c] = v;
        }
      }
      i = 2 * Q * CC;
    }
    for (; i < W * CC; ++i) d[i] = 0.0f;
    if (ty) times_tanh_grad(d, ty + row * W * CC, W * CC);
  }
}

// The same for any channel count, vectorised over the channels.
void avg_bwd_disjoint(const PoolParams& p, const float* __restrict dy,
                      const float* __restrict inv, const float* __restrict ty,
                      float* __restrict dx) {
  const int64_t C = p.C, W = p.W, rows = p.N * p.H;
  const bool nt = !ty && stream_rows(dx, rows * W * C, C);
#pragma omp parallel for num_threads(threads_for_elements(rows * W * C)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.H, ih = row % p.H;
    float* __restrict d = dx + row * W * C;
    const int64_t oh = (ih + p.pad_t) / p.stride_h;
    const bool covered = (ih + p.pad_t) % p.stride_h < p.KH && oh < p.P;
    const float* g = dy + (n * p.P + std::min(oh, p.P - 1)) * p.Q * C;
    const float* sc = inv + std::min(oh, p.P - 1) * p.Q;
    int64_t ow = 0;
    for (int64_t iw = 0; iw < W; ++iw) {  // ow: the window whose span may hold iw
      while (ow + 1 < p.Q && (ow + 1) * p.stride_w - p.pad_l <= iw) ++ow;
      const int64_t off = iw - (ow * p.stride_w - p.pad_l);
      const bool in = covered && off >= 0 && off < p.KW;
      const float* gp = g + ow * C;
      const float scale = sc[ow];
      float* dp = d + iw * C;
      for_lanes_wide(0, C, [&](auto lanes, int64_t c) {
        constexpr int L = decltype(lanes)::value;
        vput<L>(nt, dp + c, in ? vload<L>(gp + c) * scale : vsplat<L>(0.0f));
      });
    }
    if (ty) times_tanh_grad(d, ty + row * W * C, W * C);
    if (nt) stream_fence();
  }
}

// body(iw, oh_lo, oh_hi, ow_lo, ow_hi) for every pixel of input row `row` (n * H + ih): the
// output windows [oh_lo, oh_hi] x [ow_lo, ow_hi] that cover it. The covering columns only
// move right as iw grows, so they are updated without dividing.
template <class Body>
inline void for_covered_pixels(const PoolParams& p, int64_t row, Body&& body) {
  int64_t oh_lo, oh_hi, ow_lo, ow_hi;
  covering(row % p.H, p.KH, p.stride_h, p.pad_t, p.P, &oh_lo, &oh_hi);
  covering(0, p.KW, p.stride_w, p.pad_l, p.Q, &ow_lo, &ow_hi);
  for (int64_t iw = 0; iw < p.W; ++iw) {
    while (ow_lo < p.Q && ow_lo * p.stride_w - p.pad_l + p.KW <= iw) ++ow_lo;
    while (ow_hi + 1 < p.Q && (ow_hi + 1) * p.stride_w - p.pad_l <= iw) ++ow_hi;
    body(iw, oh_lo, oh_hi, ow_lo, ow_hi);
  }
}

// Few channels, overlapping windows: the gather with a compile-time channel count.
template <int CC>
void avg_bwd_few(const PoolParams& p, const float* __restrict dy, const float* __restrict inv,
                 const float* __restrict ty, float* __restrict dx) {
  const int64_t W = p.W, rows = p.N * p.H;
#pragma omp parallel for num_threads(threads_for_elements(rows * W * CC)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.H;
    for_covered_pixels(p, row, [&](int64_t iw, int64_t oh_lo, int64_t oh_hi, int64_t ow_lo,
                                   int64_t ow_hi) {
      float acc[CC] = {};
      for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
        const float* g = dy + (n * p.P + oh) * p.Q * CC;
        const float* sc = inv + oh * p.Q;
        for (int64_t ow = ow_lo; ow <= ow_hi; ++ow)
#pragma GCC unroll 16
          for (int c = 0; c < CC; ++c) acc[c] += g[ow * CC + c] * sc[ow];
      }
      float* d = dx + (row * W + iw) * CC;
#pragma GCC unroll 16
      for (int c = 0; c < CC; ++c) d[c] = acc[c];
    });
    if (ty) times_tanh_grad(dx + row * W * CC, ty + row * W * CC, W * CC);
  }
}

void avg_pool2d_bwd(const PoolParams& p, const float* __restrict dy,
                    const float* __restrict tanh_y, float* __restrict dx) {
  const int64_t C = p.C, W = p.W, rows = p.N * p.H;
  const float area = float(p.KH * p.KW);
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
  const bool disjoint = p.stride_h >= p.KH && p.stride_w >= p.KW;
  const bool whole_2x2 = p.KH == 2 && p.KW == 2 && p.stride_h == 2 && p.stride_w == 2 &&
                         p.pad_t == 0 && p.pad_b == 0 && p.pad_l == 0 && p.pad_r == 0;
  if (with_few_channels(C, [&](auto cc) {
        constexpr int CC = decltype(cc)::value;
        if (whole_2x2) avg_bwd_few_2x2<CC>(p, dy, tanh_y, dx);
        else if (disjoint) avg_bwd_few_disjoint<CC>(p, dy, inv, tanh_y, dx);
        else avg_bwd_few<CC>(p, dy, inv, tanh_y, dx);
      }))
    return;
  if (whole_2x2 && C == 16) return avg_bwd_few_2x2<16>(p, dy, tanh_y, dx);  // LeNet's S4
  if (disjoint) return avg_bwd_disjoint(p, dy, inv, tanh_y, dx);
  const bool nt = !tanh_y && stream_rows(dx, rows * W * C, C);
#pragma omp parallel for num_threads(threads_for_elements(rows * W * C)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / p.H;
    for_covered_pixels(p, row, [&](int64_t iw, int64_t oh_lo, int64_t oh_hi, int64_t ow_lo,
                                   int64_t ow_hi) {
      float* d = dx + (row * W + iw) * C;
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
    });
    if (tanh_y) times_tanh_grad(dx + row * W * C, tanh_y + row * W * C, W * C);
    if (nt) stream_fence();
  }
}

constexpr int64_t kChannelBlock = 64;  // channels per global-pool task

void global_avg_pool2d_fwd(int64_t N, int64_t HW, int64_t C, const float* __restrict x,
                           float* __restrict y) {
  const int64_t blocks = (C + kChannelBlock - 1) / kChannelBlock, tasks = N * blocks;
  const float inv = 1.0f / float(HW);
#pragma omp parallel for num_threads(threads_for_elements(N * HW * C)) schedule(static)
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
#pragma omp parallel for num_threads(threads_for_elements(N * HW * C)) schedule(static)
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
