#include "conv2d.h"

#include <limits>

#include "common.h"

namespace fc {

void ConvParams::finalize() {
  FC_CHECK(N >= 1 && H >= 1 && W >= 1 && C >= 1, "x: every dimension must be >= 1");
  FC_CHECK(K >= 1 && R >= 1 && S >= 1, "w: every dimension must be >= 1");
  FC_CHECK(stride_h >= 1 && stride_w >= 1, "stride must be >= 1");
  FC_CHECK(dil_h >= 1 && dil_w >= 1, "dilation must be >= 1");
  FC_CHECK(pad_t >= 0 && pad_b >= 0 && pad_l >= 0 && pad_r >= 0, "padding must be >= 0");
  FC_CHECK(groups >= 1 && C % groups == 0 && K % groups == 0,
           "groups must divide both input and output channels");
  const int64_t lim = int64_t(1) << 40;
  FC_CHECK(H < lim && W < lim && C < lim && K < lim && R < lim && S < lim && pad_t < lim &&
               pad_b < lim && pad_l < lim && pad_r < lim && stride_h < lim && stride_w < lim &&
               dil_h < lim && dil_w < lim,
           "size too large");
  const int64_t eff_r = (R - 1) * dil_h + 1, eff_s = (S - 1) * dil_w + 1;
  FC_CHECK(eff_r <= H + pad_t + pad_b && eff_s <= W + pad_l + pad_r,
           "w: kernel (after dilation) is larger than the padded input");
  P = (H + pad_t + pad_b - eff_r) / stride_h + 1;
  Q = (W + pad_l + pad_r - eff_s) / stride_w + 1;
}

void conv2d_forward(const ConvParams& p, const float* x, const float* w, const float* b,
                    float* y) {
  FC_CHECK(p.P >= 1 && p.Q >= 1, "conv2d_forward: ConvParams not finalized");
  FC_CHECK(x && w && y, "conv2d_forward: null pointer");
  FC_DISPATCH(conv2d_fwd_direct, p, x, w, b, y);
}

}  // namespace fc
