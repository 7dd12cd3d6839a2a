// ConvParams from the arrays and hyper-parameters a conv binding receives (checked).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "cpu/conv2d.h"

namespace fc {
namespace py = pybind11;

inline ConvParams make_params(const py::array& x, const py::array& w, py::tuple stride,
                              py::tuple padding, py::tuple dilation, int64_t groups, bool relu) {
  if (x.ndim() != 4) throw py::value_error("x: expected 4 dimensions (N, H, W, C)");
  if (w.ndim() != 4) throw py::value_error("w: expected 4 dimensions (R, S, C/groups, K)");
  if (stride.size() != 2 || padding.size() != 4 || dilation.size() != 2)
    throw py::value_error("stride, dilation: pairs; padding: (top, bottom, left, right)");
  ConvParams p;
  p.N = x.shape(0), p.H = x.shape(1), p.W = x.shape(2), p.C = x.shape(3);
  p.R = w.shape(0), p.S = w.shape(1), p.K = w.shape(3);
  p.stride_h = stride[0].cast<int64_t>(), p.stride_w = stride[1].cast<int64_t>();
  p.pad_t = padding[0].cast<int64_t>(), p.pad_b = padding[1].cast<int64_t>();
  p.pad_l = padding[2].cast<int64_t>(), p.pad_r = padding[3].cast<int64_t>();
  p.dil_h = dilation[0].cast<int64_t>(), p.dil_w = dilation[1].cast<int64_t>();
  p.groups = groups;
  p.relu = relu;
  p.finalize();
  if (w.shape(2) != p.Cg()) throw py::value_error("w: input channels must equal C / groups");
  return p;
}

}  // namespace fc
