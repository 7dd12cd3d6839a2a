#include "conv2d.h"

#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

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

namespace {

bool always(const ConvParams&) { return true; }
bool is_1x1(const ConvParams& p) {
  return p.unpadded_1x1();
}
// One input channel, stride 1 and no dilation along the width (grayscale first layers).
bool is_c1(const ConvParams& p) {
  return p.C == 1 && p.groups == 1 && p.stride_w == 1 && p.dil_w == 1;
}
// Strided 1x1 projections gather their pixels; that paid from 512 input channels on (ResNet-50
// downsample 512->1024 and 1024->2048: 1.1-1.25x the direct kernel; 256->512 tied or lost).
bool gemm1x1_wins(const ConvParams& p) {
  return is_1x1(p) && ((p.stride_h == 1 && p.stride_w == 1) || p.Cg() >= 512);
}
bool is_depthwise(const ConvParams& p) { return p.groups == p.C && p.groups == p.K; }
bool is_winograd(const ConvParams& p, int r) {
  return p.R == r && p.S == r && p.stride_h == 1 && p.stride_w == 1 && p.dil_h == 1 &&
         p.dil_w == 1 && p.groups == 1;
}
bool is_winograd_3x3(const ConvParams& p) { return is_winograd(p, 3); }
bool is_winograd_5x5(const ConvParams& p) { return is_winograd(p, 5); }
// Winograd on outputs of 14x14 and smaller lost to the direct kernel even at batch 16
// (ResNet-50 res4/res5 3x3, 1 thread, same run: 14x14 256 ch direct 30.5 ms, winograd
// 34.7 ms; 7x7 512 ch 45.6 ms against 58.6 ms): its per-call transform of 256-512 channel
// weights (9-38 MB) is shared by too few tiles per image.
bool winograd_wins(const ConvParams& p) {
  return conv2d_winograd_amortized(p) && p.P * p.Q > 14 * 14;
}
// F(4x4, 5x5): 64 multiplies per 16 outputs instead of 400, but an 8x8 input transform per
// tile and a per-call weight transform (64 x C x K), so it needs the channels and the tiles
// to spread those over: from one 14x14 image (16 tiles; GoogLeNet's 14x14 5x5 layers at
// batch 1 ran 1.1-1.5x the direct kernel, 1 thread). At 7x7 and batch 1 (4 tiles) the two tied.
bool winograd5_wins(const ConvParams& p) {
  const int64_t tiles = p.N * ((p.P + 3) / 4) * ((p.Q + 3) / 4);
  return is_winograd_5x5(p) && p.C >= 16 && p.K >= 16 && tiles >= 16 && winograd_enabled();
}

}  // namespace

bool winograd_enabled() {
  const char* v = std::getenv("FASTCONV_WINOGRAD");
  return !(v && std::string(v) == "0");
}

// Winograd pays for its per-call weight transform (36 x C x K) and for its tile blocks only
// with enough tiles and channels to share it.
bool conv2d_winograd_amortized(const ConvParams& p) {
  const int64_t tiles = p.N * ((p.P + 3) / 4) * ((p.Q + 3) / 4);
  return is_winograd_3x3(p) && p.C >= 16 && p.K >= 16 && tiles >= 32 && winograd_enabled();
}

namespace {

#define FC_RUN(fn)                                                                    \
  [](const ConvParams& p, const float* x, const float* w, const float* b, float* y) { \
    FC_DISPATCH(fn, p, x, w, b, y);                                                   \
  }

#define FC_PACK(fn)                                                                  \
  [](const ConvParams& p, const float* w, const float* b, float* out, int64_t* floats) { \
    FC_DISPATCH(fn##_pack, p, w, b, out, floats);                                        \
  },                                                                                     \
      [](const ConvParams& p, const float* x, const float* packed, float* y) {           \
        FC_DISPATCH(fn##_packed, p, x, nullptr, nullptr, packed, y);                     \
      }

}  // namespace

const std::vector<ConvFwdAlgo>& conv2d_forward_algos() {
  static const std::vector<ConvFwdAlgo> algos = {
      {"direct", "register-blocked direct convolution (tile of pixels x 32|16 channels)",
       always, FC_RUN(conv2d_fwd_direct), FC_PACK(conv2d_fwd_direct)},
      {"gemm1x1", "1x1 unpadded convolution (any stride) as a GEMM over the flattened pixels",
       is_1x1, FC_RUN(conv2d_fwd_gemm1x1), FC_PACK(conv2d_fwd_gemm1x1)},
      {"depthwise", "depthwise (groups == C == K), vectorised over channels", is_depthwise,
       FC_RUN(conv2d_fwd_depthwise)},
      {"winograd", "Winograd F(4x4, 3x3) for 3x3 stride-1 (relative error ~1e-4)",
       is_winograd_3x3, FC_RUN(conv2d_fwd_winograd), FC_PACK(conv2d_fwd_winograd)},
      {"winograd5", "Winograd F(4x4, 5x5) for 5x5 stride-1 (relative error ~1e-5)",
       is_winograd_5x5, FC_RUN(conv2d_fwd_winograd5), FC_PACK(conv2d_fwd_winograd5)},
      {"c1", "one input channel, stride 1 along the width: vectors along the output row",
       is_c1, FC_RUN(conv2d_fwd_c1)},
      {"naive", "plain loops, the baseline every variant is checked against", always,
       FC_RUN(conv2d_fwd_naive)},
  };
  return algos;
}

const ConvFwdAlgo& conv2d_forward_choose(const ConvParams& p) {
  const char* name = is_depthwise(p)    ? "depthwise"
                     : is_c1(p)         ? "c1"
                     : gemm1x1_wins(p)  ? "gemm1x1"
                     : winograd_wins(p) ? "winograd"
                     : winograd5_wins(p) ? "winograd5"
                                        : "direct";
  for (const ConvFwdAlgo& a : conv2d_forward_algos())
    if (std::string(a.name) == name) return a;
  throw std::logic_error("conv2d_forward_choose: missing algorithm");
}

namespace {

// The algorithm named algo (not "auto"), checked to apply to p; `what` names the entry point.
const ConvFwdAlgo& named_algo(const ConvParams& p, const std::string& algo, const char* what) {
  FC_CHECK(p.P >= 1 && p.Q >= 1, std::string(what) + ": ConvParams not finalized");
  for (const ConvFwdAlgo& a : conv2d_forward_algos())
    if (algo == a.name) {
      FC_CHECK(a.applicable(p), "algo: '" + algo + "' does not apply to this convolution");
      return a;
    }
  FC_CHECK(false, "algo: unknown conv2d forward algorithm '" + algo + "'");
  throw std::logic_error("unreachable");
}

}  // namespace

void conv2d_forward(const ConvParams& p, const float* x, const float* w, const float* b,
                    float* y, const std::string& algo) {
  FC_CHECK(p.P >= 1 && p.Q >= 1, "conv2d_forward: ConvParams not finalized");
  FC_CHECK(x && w && y, "conv2d_forward: null pointer");
  if (algo == "auto") return conv2d_forward_choose(p).run(p, x, w, b, y);
  named_algo(p, algo, "conv2d_forward").run(p, x, w, b, y);
}

int64_t conv2d_packed_floats(const ConvParams& p, const std::string& algo) {
  const ConvFwdAlgo& a = named_algo(p, algo, "conv2d_packed_floats");
  int64_t n = 0;
  if (a.pack) a.pack(p, nullptr, nullptr, nullptr, &n);
  return n;
}

void conv2d_pack(const ConvParams& p, const float* w, const float* b, const std::string& algo,
                 float* out) {
  const ConvFwdAlgo& a = named_algo(p, algo, "conv2d_pack");
  FC_CHECK(a.pack, "algo: '" + algo + "' has no prepacked form");
  FC_CHECK(w && out, "conv2d_pack: null pointer");
  int64_t n = 0;
  a.pack(p, w, b, out, &n);
}

void conv2d_forward_packed(const ConvParams& p, const float* x, const float* packed, float* y,
                           const std::string& algo) {
  const ConvFwdAlgo& a = named_algo(p, algo, "conv2d_forward_packed");
  FC_CHECK(a.run_packed, "algo: '" + algo + "' has no prepacked form");
  FC_CHECK(x && packed && y, "conv2d_forward_packed: null pointer");
  a.run_packed(p, x, packed, y);
}

}  // namespace fc
