// conv2d bindings: Python has validated already; these re-check and release the GIL.
#include <pybind11/stl.h>

#include "bind.h"
#include "cpu/conv2d.h"
#include "util.h"

namespace py = pybind11;

namespace fc {

static ConvParams make_params(const py::array& x, const py::array& w, py::tuple stride,
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

void bind_conv(py::module_& m) {
  m.def(
      "conv2d_forward",
      [](const py::array& x, const py::array& w, const py::object& b, py::tuple stride,
         py::tuple padding, py::tuple dilation, int64_t groups, bool relu,
         const py::object& out, const std::string& algo) {
        ConvParams p = make_params(x, w, stride, padding, dilation, groups, relu);
        const float* xp = py_util::in_ptr(x, "x", {p.N, p.H, p.W, p.C});
        const float* wp = py_util::in_ptr(w, "w", {p.R, p.S, p.Cg(), p.K});
        const float* bp = nullptr;
        if (!b.is_none()) bp = py_util::in_ptr(b.cast<py::array>(), "b", {p.K});
        py::array_t<float> y = py_util::out_array(out, "out", {p.N, p.P, p.Q, p.K});
        float* yp = py_util::mut_ptr(y);
        {
          py::gil_scoped_release nogil;
          conv2d_forward(p, xp, wp, bp, yp, algo);
        }
        return y;
      },
      py::arg("x"), py::arg("w"), py::arg("b"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("groups"), py::arg("relu") = false,
      py::arg("out") = py::none(), py::arg("algo") = "auto",
      "y = conv2d(x, w) + b, NHWC/HWIO float32; padding is (top, bottom, left, right);\n"
      "algo: 'auto' or a name from conv2d_forward_algos().");
  m.def(
      "conv2d_forward_algos",
      [] {
        std::vector<std::string> names;
        for (const ConvFwdAlgo& a : conv2d_forward_algos()) names.push_back(a.name);
        return names;
      },
      "names of the forward algorithms (variants), in table order");
  m.def(
      "conv2d_forward_algo_docs",
      [] {
        std::vector<std::pair<std::string, std::string>> docs;
        for (const ConvFwdAlgo& a : conv2d_forward_algos()) docs.emplace_back(a.name, a.doc);
        return docs;
      },
      "(name, description) of each forward algorithm");
  m.def(
      "conv2d_forward_applicable",
      [](const py::array& x, const py::array& w, py::tuple stride, py::tuple padding,
         py::tuple dilation, int64_t groups) {
        ConvParams p = make_params(x, w, stride, padding, dilation, groups, false);
        std::vector<std::string> names;
        for (const ConvFwdAlgo& a : conv2d_forward_algos())
          if (a.applicable(p)) names.push_back(a.name);
        return py::make_tuple(names, std::string(conv2d_forward_choose(p).name));
      },
      py::arg("x"), py::arg("w"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
      py::arg("groups"),
      "(names of the algorithms that apply to this convolution, the one 'auto' picks)");
}

}  // namespace fc
