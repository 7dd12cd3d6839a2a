// 2-D convolution backward (dx, dw, db), NHWC activations and HWIO weights, float32.
// Every output element is written by one thread and every reduction runs in an order fixed
// by the geometry alone, so results are bitwise identical whatever the thread count.
#pragma once
#include <string>
#include <vector>

#include "conv2d.h"
#include "isa.h"

namespace fc {

// dx = conv2d_backward_data: register tile of dx pixels (one stride phase) x C vectors,
// weights repacked to [g][r][s][k][c], dy rows to [k/VL][column][VL]; strided layers visit
// only the taps that hit a pixel.
FC_DECLARE_ISA_FN(void conv2d_bwd_data_cvec(const ConvParams& p, const float* dy,
                                            const float* w, float* dx))
// dx for few input channels: dot products over K, vectors along K (forced only; "auto"
// takes col2im for these layers).
FC_DECLARE_ISA_FN(void conv2d_bwd_data_kdot(const ConvParams& p, const float* dy,
                                            const float* w, float* dx))
// dx for few input channels: per dy row a GEMM col = dy x w^T over the R*S*C filter outputs,
// scatter-added into bands of dx rows (each band owned by one task, fixed order). With
// claim (a counter from 0 shared by two callers), the caller runs the bands it takes from
// it, serially: two threads can split one dx between them, in any proportion.
FC_DECLARE_ISA_FN(void conv2d_bwd_data_col2im(const ConvParams& p, const float* dy,
                                              const float* w, float* dx,
                                              int64_t* claim = nullptr))
// dx, plain loops (any groups; vectorised over channels for depthwise).
FC_DECLARE_ISA_FN(void conv2d_bwd_data_simple(const ConvParams& p, const float* dy,
                                              const float* w, float* dx))
// dw: per filter row, a (S*Cg) x Kg register-tiled product reduced over all output pixels;
// each thread owns a fixed set of dw tiles (no partial sums to merge).
FC_DECLARE_ISA_FN(void conv2d_bwd_weight_tiled(const ConvParams& p, const float* dy,
                                               const float* x, float* dw))
// dw of an unpadded ungrouped 1x1 layer (any stride): one C x K GEMM over the pixels, dw cut
// into L2-sized panels that each walk all the pixels ("auto" for those layers).
FC_DECLARE_ISA_FN(void conv2d_bwd_weight_1x1(const ConvParams& p, const float* dy,
                                             const float* x, float* dw))
// dw for a short reduction (first layers): one (R*S*Cg) x Kg GEMM over blocks of pixels, the
// im2col rows of a block packed per thread; each thread owns an equal share of dw tiles
// ("auto" for strided layers with <= 4 input channels, see conv2d_backward.cpp).
FC_DECLARE_ISA_FN(void conv2d_bwd_weight_im2col(const ConvParams& p, const float* dy,
                                                const float* x, float* dw))
// dw of a 3x3 or 5x5 stride-1 layer by Winograd: F(4x4, 3x3) for 3x3, F(4x4, 5x5) for 5x5;
// one GEMM over transformed tiles per tile position.
FC_DECLARE_ISA_FN(void conv2d_bwd_weight_winograd(const ConvParams& p, const float* dy,
                                                  const float* x, float* dw))
// dw for one input channel, stride 1 and no dilation along the width: vectors along ow.
FC_DECLARE_ISA_FN(void conv2d_bwd_weight_c1(const ConvParams& p, const float* dy,
                                            const float* x, float* dw))
// dw, plain loops (any groups), one filter tap per task.
FC_DECLARE_ISA_FN(void conv2d_bwd_weight_simple(const ConvParams& p, const float* dy,
                                                const float* x, float* dw))
// The forward 1x1 GEMM (gemm1x1, unpadded, stride 1, one group, no bias) with its weights
// given swapped: wk[k][c] for k < p.K, c < p.C, i.e. the HWIO weights of the layer whose dx
// this computes (dx = dy x w^T), packed without a separate transpose.
FC_DECLARE_ISA_FN(void conv2d_fwd_gemm1x1_swapped(const ConvParams& p, const float* x,
                                                  const float* wk, float* y))
// db = sum of dy over pixels: fixed chunks of pixels, partials summed in chunk order.
FC_DECLARE_ISA_FN(void conv2d_bwd_bias(const ConvParams& p, const float* dy, float* db))

// The algorithm variants: "auto" picks per layer; the others force one dx/dw pair
// ("cvec": dx_cvec + dw_tiled, "kdot": dx_kdot + dw_tiled, "col2im": dx_col2im + dw_tiled,
// "im2col": dx_col2im + dw_im2col (dw_tiled where R*S*Cg > kIm2colMaxRows), "simple": plain
// loops).
std::vector<std::string> conv2d_backward_algos();

// Any of dx, dw, db may be null (not computed). Throws std::invalid_argument on bad input.
void conv2d_backward(const ConvParams& p, const float* dy, const float* x, const float* w,
                     float* dx, float* dw, float* db, const std::string& algo = "auto");

}  // namespace fc
