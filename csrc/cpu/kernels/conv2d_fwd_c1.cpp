// Convolution forward for one input channel ("c1" variant: grayscale first layers such as
// LeNet-5's conv1), stride 1 and no dilation along the width. The direct kernel's tiles hold
// output channels in vectors and reduce over R * S * C; with C = 1 and K = 6 a vector is
// mostly empty. Here vectors run along the output row instead: a tile of up to 4 vectors of
// pixels x 6 channels, one unaligned load of the zero-padded input row per vector and tap,
// the tap's weight broadcast. Each output element is written by one task in (r, s) order.
#include <algorithm>
#include <utility>

#include "conv2d_bwd_simd.h"
#include "conv2d_c1_strip.h"
#include "cpu/conv2d.h"
#include "cpu/memory.h"

namespace fc {
namespace FC_ISA_NS {
namespace {

using namespace bwd;

constexpr int PVmax = 4, KC = 6;  // pixel vectors x channels per tile
constexpr int64_t kBandRows = 8;  // output rows per task (they share the input strip)

struct Row {
  const float* xr;  // strip row of the output row's first tap, column 0 = ow 0, tap s 0
  int64_t Wp, dh, R, S, K, Q;
  const float* w;
  const float* b;   // K floats or null
  bool relu;
  float* y;         // y[n, oh, 0, 0]
};

template <int PV, int KCt>
struct Tile {
  static void run(const Row& t, int64_t q0, int64_t k0) {
    vf acc[PV][KCt];
#pragma GCC unroll 4
    for (int v = 0; v < PV; ++v)
#pragma GCC unroll 6
      for (int k = 0; k < KCt; ++k) acc[v][k] = vf{};
    for (int64_t r = 0; r < t.R; ++r) {
      const float* xr = t.xr + r * t.dh * t.Wp + q0;
      const float* wr = t.w + r * t.S * t.K + k0;
      for (int64_t s = 0; s < t.S; ++s) {
        vf xv[PV];
#pragma GCC unroll 4
        for (int v = 0; v < PV; ++v) xv[v] = vload(xr + s + v * VL);
#pragma GCC unroll 6
        for (int k = 0; k < KCt; ++k) {
          vf wv = vbcast(wr[s * t.K + k]);
          keep_in_register(wv);
#pragma GCC unroll 4
          for (int v = 0; v < PV; ++v) acc[v][k] += xv[v] * wv;
        }
      }
    }
    // Channels to pixel-major NHWC through a small buffer (a register transpose would need
    // K-specific shuffles).
    float buf[KCt][PV * VL];
#pragma GCC unroll 6
    for (int k = 0; k < KCt; ++k) {
      const vf bias = vbcast(t.b ? t.b[k0 + k] : 0.0f);
#pragma GCC unroll 4
      for (int v = 0; v < PV; ++v) {
        vf o = acc[v][k] + bias;
        if (t.relu) o = o > vf{} ? o : vf{};
        vstore(buf[k] + v * VL, o);
      }
    }
    const int64_t np = std::min<int64_t>(PV * VL, t.Q - q0);
    for (int64_t i = 0; i < np; ++i) {
      float* dst = t.y + (q0 + i) * t.K + k0;
#pragma GCC unroll 6
      for (int k = 0; k < KCt; ++k) dst[k] = buf[k][i];
    }
  }
};

using Table = ShapeTable<void (*)(const Row&, int64_t, int64_t), PVmax, KC, Tile>;

}  // namespace

void conv2d_fwd_c1(const ConvParams& p, const float* x, const float* w, const float* b,
                   float* y) {
  static const Table table;
  const int64_t K = p.K, P = p.P, Q = p.Q, PB = PVmax * VL;
  // Strip columns: every pixel block's last vector plus the filter's reach stays inside.
  const int64_t Wp = (Q + PB - 1) / PB * PB + p.S + VL;
  const int64_t bands_per_image = (P + kBandRows - 1) / kBandRows;
  const double macs = double(p.N) * P * Q * K * p.R * p.S;
#pragma omp parallel for num_threads(threads_for_work(macs)) schedule(static)
  for (int64_t task = 0; task < p.N * bands_per_image; ++task) {
    const int64_t n = task / bands_per_image, oh0 = task % bands_per_image * kBandRows;
    const int64_t rows = std::min(kBandRows, P - oh0);
    const int64_t xrows = (rows - 1) * p.stride_h + (p.R - 1) * p.dil_h + 1;
    float* xp = workspace(5, size_t(xrows * Wp));
    c1_strip(p, x, n, oh0 * p.stride_h - p.pad_t, xrows, Wp, xp);
    for (int64_t oh = 0; oh < rows; ++oh) {
      const Row t{xp + oh * p.stride_h * Wp, Wp, p.dil_h, p.R, p.S, K, Q, w, b, p.relu,
                  y + (n * P + oh0 + oh) * Q * K};
      for (int64_t q0 = 0; q0 < Q; q0 += PB) {
        const int64_t pv = (std::min(PB, Q - q0) + VL - 1) / VL;
        for (int64_t k0 = 0; k0 < K; k0 += KC)
          table.t[pv - 1][std::min<int64_t>(KC, K - k0) - 1](t, q0, k0);
      }
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
