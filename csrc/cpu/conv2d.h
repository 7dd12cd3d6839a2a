// 2-D convolution, NHWC activations and HWIO weights, float32.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "isa.h"

namespace fc {

struct ConvParams {
  int64_t N = 0, H = 0, W = 0, C = 0;       // input (N, H, W, C)
  int64_t K = 0, R = 0, S = 0;              // weights (R, S, C / groups, K)
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_t = 0, pad_b = 0, pad_l = 0, pad_r = 0;
  int64_t dil_h = 1, dil_w = 1;
  int64_t groups = 1;
  int64_t P = 0, Q = 0;                     // output (N, P, Q, K), filled by finalize()
  bool relu = false;                        // fused epilogue: y = max(conv + bias, 0)

  // Checks every size and computes P, Q; throws std::invalid_argument naming the culprit.
  void finalize();
  int64_t Cg() const { return C / groups; }
  int64_t Kg() const { return K / groups; }
  // A 1x1 filter with no padding (any stride, groups): a GEMM over the pixels it hits.
  bool unpadded_1x1() const {
    return R == 1 && S == 1 && pad_t == 0 && pad_b == 0 && pad_l == 0 && pad_r == 0;
  }
};

// Forward kernels, one per variant (csrc/cpu/kernels/conv2d_fwd_<variant>.cpp).
#define FC_CONV_FWD_DECL(name)                                                   \
  FC_DECLARE_ISA_FN(void name(const ConvParams& p, const float* x, const float* w, \
                              const float* b, float* y))
FC_CONV_FWD_DECL(conv2d_fwd_naive)
FC_CONV_FWD_DECL(conv2d_fwd_direct)
FC_CONV_FWD_DECL(conv2d_fwd_gemm1x1)
FC_CONV_FWD_DECL(conv2d_fwd_depthwise)
FC_CONV_FWD_DECL(conv2d_fwd_winograd)
FC_CONV_FWD_DECL(conv2d_fwd_winograd5)
FC_CONV_FWD_DECL(conv2d_fwd_c1)
#undef FC_CONV_FWD_DECL
// Variants that can run on weights packed once (prepacked inference weights): <name>_pack
// sets *floats to the packed size and, when out is not null, writes the packed weights and
// bias there; <name>_packed runs on them (packed null: packs w and b itself, as <name>).
#define FC_CONV_PACKED_DECL(name)                                                          \
  FC_DECLARE_ISA_FN(void name##_pack(const ConvParams& p, const float* w, const float* b,   \
                                     float* out, int64_t* floats))                          \
  FC_DECLARE_ISA_FN(void name##_packed(const ConvParams& p, const float* x, const float* w, \
                                       const float* b, const float* packed, float* y))
FC_CONV_PACKED_DECL(conv2d_fwd_direct)
FC_CONV_PACKED_DECL(conv2d_fwd_gemm1x1)
FC_CONV_PACKED_DECL(conv2d_fwd_winograd)
FC_CONV_PACKED_DECL(conv2d_fwd_winograd5)
#undef FC_CONV_PACKED_DECL

// One forward algorithm: the list of these is the single source for dispatch, tests and
// benchmarks (fastconv._C.conv2d_forward_algos()).
struct ConvFwdAlgo {
  const char* name;
  const char* doc;
  bool (*applicable)(const ConvParams&);
  void (*run)(const ConvParams&, const float* x, const float* w, const float* b, float* y);
  // Prepacked weights (both null where the variant packs nothing per call): see
  // FC_CONV_PACKED_DECL. The layout belongs to the active ISA.
  void (*pack)(const ConvParams&, const float* w, const float* b, float* out,
               int64_t* floats) = nullptr;
  void (*run_packed)(const ConvParams&, const float* x, const float* packed,
                     float* y) = nullptr;
};
const std::vector<ConvFwdAlgo>& conv2d_forward_algos();
// The algorithm "auto" runs for p (the fastest applicable one). Winograd is left out when the
// environment variable FASTCONV_WINOGRAD is "0" (it trades ~1e-5 relative error for speed).
const ConvFwdAlgo& conv2d_forward_choose(const ConvParams& p);
// Whether a 3x3 stride-1 layer has the tiles and channels to pay for Winograd's per-call
// weight transform (and FASTCONV_WINOGRAD is not "0"). The forward's "auto" also wants outputs
// larger than 14x14; the backward's dx (as a forward) and dw use this rule alone.
bool conv2d_winograd_amortized(const ConvParams& p);
// False when the environment variable FASTCONV_WINOGRAD is "0": every Winograd path (forward,
// dx as a forward, dw) is then off.
bool winograd_enabled();

// y = conv(x, w) + b (b may be null), with the fused ReLU if p.relu. algo: a name from
// conv2d_forward_algos() or "auto"; throws std::invalid_argument if unknown or not applicable.
void conv2d_forward(const ConvParams& p, const float* x, const float* w, const float* b,
                    float* y, const std::string& algo = "auto");

// Prepacked weights for the forward algorithm algo (a name, not "auto"): the weights and bias
// in the layout that algo's kernel reads, made once and reused by every call of the same
// layer (frozen inference weights: the per-call pack is a third to a half of a batch-1 call
// on 14x14 and 7x7 layers). The layout depends on the weights' shape, groups, algo and the
// active ISA, not on the input size. conv2d_packed_floats returns 0 when algo has no packed
// form (the caller then runs conv2d_forward).
int64_t conv2d_packed_floats(const ConvParams& p, const std::string& algo);
void conv2d_pack(const ConvParams& p, const float* w, const float* b, const std::string& algo,
                 float* out);
// conv2d_forward on weights packed by conv2d_pack for the same layer, algo and ISA; the same
// arithmetic, so the same bits.
void conv2d_forward_packed(const ConvParams& p, const float* x, const float* packed, float* y,
                           const std::string& algo);

}  // namespace fc
