// Zero-padded input rows for the one-input-channel kernels (conv2d_fwd_c1, conv2d_bwd_weight_c1),
// which run vectors along the output row (stride 1, no dilation along the width).
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>

#include "conv2d_bwd_simd.h"
#include "cpu/conv2d.h"

namespace fc {
namespace FC_ISA_NS {

// Row j of xp (Wp floats) is input row ih0 + j of image n: column c holds x[c - pad_l] for
// pad_l <= c < pad_l + W, zero elsewhere (and the whole row outside x).
// Vector stores, not loops the compiler turns into short memset/memcpy calls (those calls
// cost more than the copy at these widths).
inline void c1_strip(const ConvParams& p, const float* x, int64_t n, int64_t ih0, int64_t rows,
                     int64_t Wp, float* xp) {
  using namespace bwd;
  const int64_t len = p.W;
  for (int64_t j = 0; j < rows; ++j) {
    const int64_t ih = ih0 + j;
    float* dst = xp + j * Wp;
    for (int64_t c = 0; c < Wp; c += VL) vstore_n(dst + c, vf{}, int(std::min<int64_t>(VL, Wp - c)));
    if (ih < 0 || ih >= p.H) continue;
    const float* src = x + (n * p.H + ih) * p.W;
    for (int64_t c = 0; c < len; c += VL) {
      const int m = int(std::min<int64_t>(VL, len - c));
      vstore_n(dst + p.pad_l + c, vload_n(src + c, m), m);
    }
  }
}

// t[i][j] = &Tile<i + 1, j + 1>::run: the register-tile shapes of a c1 kernel, for picking
// the tile that fits a block's edge at run time.
template <class Fn, int A, int B, template <int, int> class Tile>
struct ShapeTable {
  Fn t[A][B] = {};
  ShapeTable() { rows(std::make_integer_sequence<int, A>{}); }
  template <int... Is>
  void rows(std::integer_sequence<int, Is...>) {
    (row<Is>(std::make_integer_sequence<int, B>{}), ...);
  }
  template <int I, int... Js>
  void row(std::integer_sequence<int, Js...>) {
    ((t[I][Js] = &Tile<I + 1, Js + 1>::run), ...);
  }
};

}  // namespace FC_ISA_NS
}  // namespace fc
