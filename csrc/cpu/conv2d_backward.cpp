#include "conv2d_backward.h"

#include "common.h"

namespace fc {

namespace {

int vector_lanes() {
  switch (active_isa()) {
    case Isa::avx512: return 16;
    case Isa::avx2: return 8;
    default: return 4;
  }
}

enum class DataAlgo { cvec, kdot, col2im, simple };
enum class WeightAlgo { tiled, simple };

// "auto": depthwise-like groups take the plain loops (vectorised over channels); few input
// channels per group and 1x1 layers the col2im GEMM; the rest the C-vector tiles.
void pick(const ConvParams& p, const std::string& algo, DataAlgo& da, WeightAlgo& wa) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), vl = vector_lanes();
  if (algo == "auto") {
    const bool tiny_groups = p.groups > 1 && Cg * 4 <= vl && Kg * 4 <= vl;
    // col2im: few channels (a C vector would be mostly empty; measured 2-3x kdot on the
    // 3-channel strided first layers and LeNet conv2) and 1x1 layers whose weights stay in
    // L2 (a plain GEMM, 1.3x cvec on ResNet res3; it re-reads all weights per dy row, so
    // 2048x512 1x1 layers at 7x7 ran at 0.4x cvec).
    const bool col = 2 * Cg <= vl || (p.R == 1 && p.S == 1 && Cg * Kg <= 128 * 1024);
    da = tiny_groups ? DataAlgo::simple : col ? DataAlgo::col2im : DataAlgo::cvec;
    wa = tiny_groups ? WeightAlgo::simple : WeightAlgo::tiled;
  } else if (algo == "cvec") {
    da = DataAlgo::cvec, wa = WeightAlgo::tiled;
  } else if (algo == "col2im") {
    da = DataAlgo::col2im, wa = WeightAlgo::tiled;
  } else if (algo == "kdot") {
    da = DataAlgo::kdot, wa = WeightAlgo::tiled;
  } else if (algo == "simple") {
    da = DataAlgo::simple, wa = WeightAlgo::simple;
  } else {
    throw std::invalid_argument("algo: unknown conv2d_backward variant '" + algo + "'");
  }
}

}  // namespace

std::vector<std::string> conv2d_backward_algos() { return {"auto", "cvec", "kdot", "col2im", "simple"}; }

void conv2d_backward(const ConvParams& p, const float* dy, const float* x, const float* w,
                     float* dx, float* dw, float* db, const std::string& algo) {
  FC_CHECK(p.P >= 1 && p.Q >= 1, "conv2d_backward: ConvParams not finalized");
  FC_CHECK(dy, "conv2d_backward: null dy");
  FC_CHECK(!dx || w, "conv2d_backward: dx needs w");
  FC_CHECK(!dw || x, "conv2d_backward: dw needs x");
  DataAlgo da;
  WeightAlgo wa;
  pick(p, algo, da, wa);
  if (dx) {
    if (da == DataAlgo::cvec) FC_DISPATCH(conv2d_bwd_data_cvec, p, dy, w, dx);
    else if (da == DataAlgo::col2im) FC_DISPATCH(conv2d_bwd_data_col2im, p, dy, w, dx);
    else if (da == DataAlgo::kdot) FC_DISPATCH(conv2d_bwd_data_kdot, p, dy, w, dx);
    else FC_DISPATCH(conv2d_bwd_data_simple, p, dy, w, dx);
  }
  if (dw) {
    if (wa == WeightAlgo::tiled) FC_DISPATCH(conv2d_bwd_weight_tiled, p, dy, x, dw);
    else FC_DISPATCH(conv2d_bwd_weight_simple, p, dy, x, dw);
  }
  if (db) FC_DISPATCH(conv2d_bwd_bias, p, dy, db);
}

}  // namespace fc
