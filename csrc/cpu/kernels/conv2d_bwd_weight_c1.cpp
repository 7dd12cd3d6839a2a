// Convolution backward-weight for one input channel (grayscale first layers such as LeNet-5's
// conv1), stride 1 and no dilation along the width:
//   dw[r, s, k] = sum over (n, oh, ow) of x[n, oh*sh - pt + r*dh, ow - pl + s] * dy[n, oh, ow, k]
// The GEMM tiles reduce over pixels with R*S*C rows and K columns; with C = 1 and K = 6 those
// are 25 x 6 and every vector is mostly empty. Here vectors run along the output row
// instead: x rows are contiguous in ow, and dy is transposed per band of rows to [oh][k][ow]
// (rows zero-padded to whole vectors). A register tile of MR filter taps x KC channels
// accumulates over the band's rows; each sum is folded to a scalar at the band's end.
//
// Bands and the chunks of bands that tasks own are fixed by the shape (never by the thread
// count); each chunk sums its bands in order into its own partial dw, and the partials are
// added in chunk order: bitwise identical at any thread count.
#include <algorithm>
#include <utility>

#include "conv2d_bwd_simd.h"
#include "conv2d_c1_strip.h"
#include "cpu/conv2d_backward.h"
#include "cpu/memory.h"

namespace fc {
namespace FC_ISA_NS {
namespace {

using namespace bwd;

constexpr int MR = 4, KC = 6;  // taps x channels per register tile (24 accumulators)

#if defined(FC_ISA_avx512)
// 16 pixels x K channels (K contiguous vectors) to K vectors of 16 pixels, for K <= 16: lane i
// of channel k's vector is element i * K + k, lane (i * K + k) % 16 of source vector
// (i * K + k) / 16; one masked lane permute per (channel, source vector) it draws from.
struct Deinterleave {
  __m512i idx[16];
  __mmask16 mask[16][16] = {};
  int K;
  explicit Deinterleave(int k_) : K(k_) {
    for (int k = 0; k < K; ++k) {
      alignas(64) int lane[16];
      for (int i = 0; i < 16; ++i) {
        const int e = i * K + k;
        lane[i] = e % 16;
        mask[k][e / 16] = __mmask16(mask[k][e / 16] | (1u << i));
      }
      idx[k] = _mm512_load_si512(lane);
    }
  }
  // np <= 16 pixels from src; lanes of pixels past np come out zero.
  void run(const float* src, float* dst, int64_t kstride, int np) const {
    __m512 v[16];
    const int ne = np * K;  // floats to read
    for (int j = 0; j < K; ++j) {
      const int m = std::clamp(ne - 16 * j, 0, 16);
      v[j] = _mm512_maskz_loadu_ps(__mmask16((1u << m) - 1u), src + 16 * j);
    }
    for (int k = 0; k < K; ++k) {
      __m512 o = _mm512_setzero_ps();
      for (int j = 0; j < K; ++j)
        if (mask[k][j]) o = _mm512_mask_permutexvar_ps(o, mask[k][j], idx[k], v[j]);
      _mm512_storeu_ps(dst + k * kstride, o);
    }
  }
};
#endif

struct Band {
  const float* xp;   // zero-padded input rows of the band: (rows, Wp)
  const float* dyT;  // dy of the band as [row][k][Qp]
  int64_t Wp, Q, Qp, rows, sh, dh, S, K;
};

// sums[i][k] += sum over the band of x(tap m0 + i) * dy(k0 + k), i < MRt, k < KCt.
template <int MRt, int KCt>
struct Tile {
  static void run(const Band& b, int64_t m0, int64_t k0, float* sums, int64_t K) {
    vf acc[MRt][KCt];
#pragma GCC unroll 4
    for (int i = 0; i < MRt; ++i)
#pragma GCC unroll 6
      for (int k = 0; k < KCt; ++k) acc[i][k] = vf{};
    int64_t xoff[MRt];
#pragma GCC unroll 4
    for (int i = 0; i < MRt; ++i) {
      const int64_t r = (m0 + i) / b.S, s = (m0 + i) % b.S;
      xoff[i] = r * b.dh * b.Wp + s;
    }
    const int64_t kstride = b.Qp;
    for (int64_t oh = 0; oh < b.rows; ++oh) {
      const float* xr = b.xp + oh * b.sh * b.Wp;
      const float* dr = b.dyT + (oh * b.K + k0) * b.Qp;
      // The last vector masks x past the row: 0 * inf in a padded lane would be a NaN.
      for (int64_t q = 0; q < b.Qp; q += VL) {
        const int n = int(std::min<int64_t>(VL, b.Q - q));
        vf d[KCt];
#pragma GCC unroll 6
        for (int k = 0; k < KCt; ++k) d[k] = vload(dr + k * kstride + q);
#pragma GCC unroll 4
        for (int i = 0; i < MRt; ++i) {
          vf xv = n == VL ? vload(xr + xoff[i] + q) : vload_n(xr + xoff[i] + q, n);
          keep_in_register(xv);
#pragma GCC unroll 6
          for (int k = 0; k < KCt; ++k) acc[i][k] += xv * d[k];
        }
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < MRt; ++i)
#pragma GCC unroll 6
      for (int k = 0; k < KCt; ++k) sums[(m0 + i) * K + k0 + k] += vsum(acc[i][k]);
  }
};

using Table =
    ShapeTable<void (*)(const Band&, int64_t, int64_t, float*, int64_t), MR, KC, Tile>;

}  // namespace

void conv2d_bwd_weight_c1(const ConvParams& p, const float* dy, const float* x, float* dw) {
  static const Table table;
  const int64_t K = p.K, P = p.P, Q = p.Q, RS = p.R * p.S;
  const int64_t Qp = (Q + VL - 1) / VL * VL;
  // x columns: pl zeros, the row, then zeros up to the last vector's reach.
  const int64_t Wp = Qp + (p.S - 1) + VL;
  // Output rows per band: the band's transposed dy stays near 64 KiB (L2 with its x rows).
  const int64_t brows = std::clamp<int64_t>(16384 / (K * Qp), 1, P);
  const int64_t bands_per_image = (P + brows - 1) / brows, bands = p.N * bands_per_image;
  const int64_t chunks = std::min<int64_t>(bands, 64);
  float* part = workspace(49, size_t(chunks * RS * K));
#if defined(FC_ISA_avx512)
  const Deinterleave deint(int(std::min<int64_t>(K, 16)));
#endif
  const int nt = threads_for(conv_macs(p));

#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    float* sums = part + chunk * RS * K;
    for (int64_t i = 0; i < RS * K; ++i) sums[i] = 0.0f;
    for (int64_t band = chunk * bands / chunks; band < (chunk + 1) * bands / chunks; ++band) {
      const int64_t n = band / bands_per_image, oh0 = band % bands_per_image * brows;
      const int64_t rows = std::min(brows, P - oh0);
      // The band reads input rows oh0 * sh - pt + j for j < xrows.
      const int64_t xrows = (rows - 1) * p.stride_h + (p.R - 1) * p.dil_h + 1;
      float* xp = workspace(5, size_t(xrows * Wp));
      float* dyT = workspace(6, size_t(K * rows * Qp));
      c1_strip(p, x, n, oh0 * p.stride_h - p.pad_t, xrows, Wp, xp);
      for (int64_t oh = 0; oh < rows; ++oh) {
        const float* src = dy + ((n * P + oh0 + oh) * Q) * K;
        float* dst = dyT + oh * K * Qp;
        int64_t q = 0;
#if defined(FC_ISA_avx512)
        if (K <= 16)  // every vector of the row, zero lanes past Q included
          for (; q < Q; q += 16) deint.run(src + q * K, dst + q, Qp, int(std::min<int64_t>(16, Q - q)));
#endif
        if (q < Q)
          for (int64_t k = 0; k < K; ++k) vstore(dst + k * Qp + Qp - VL, vf{});
        // Sequential reads, K nearby write streams (hardware gathers are slow on many x86s).
        for (; q < Q; ++q)
          for (int64_t k = 0; k < K; ++k) dst[k * Qp + q] = src[q * K + k];
      }
      const Band b{xp, dyT, Wp, Q, Qp, rows, p.stride_h, p.dil_h, p.S, K};
      for (int64_t m0 = 0; m0 < RS; m0 += MR)
        for (int64_t k0 = 0; k0 < K; k0 += KC)
          table.t[std::min<int64_t>(MR, RS - m0) - 1][std::min<int64_t>(KC, K - k0) - 1](
              b, m0, k0, sums, K);
    }
  }
  // Chunks in order, one (tap, channel) per step.
  for (int64_t i = 0; i < RS * K; ++i) {
    float s = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) s += part[c * RS * K + i];
    dw[i] = s;
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
