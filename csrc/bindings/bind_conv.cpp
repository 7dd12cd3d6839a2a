// conv2d bindings: Python has validated already; these re-check and release the GIL.
#include <pybind11/stl.h>

#include "bind.h"
#include "cpu/conv2d.h"
#include "conv_params.h"
#include "util.h"

namespace py = pybind11;

namespace fc {

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
      "conv2d_pack",
      [](const py::array& x, const py::array& w, const py::object& b, py::tuple stride,
         py::tuple padding, py::tuple dilation, int64_t groups, const std::string& algo) {
        // x gives the input shape only ("auto" picks by it); its data is not read.
        ConvParams p = make_params(x, w, stride, padding, dilation, groups, false);
        const float* wp = py_util::in_ptr(w, "w", {p.R, p.S, p.Cg(), p.K});
        const float* bp = nullptr;
        if (!b.is_none()) bp = py_util::in_ptr(b.cast<py::array>(), "b", {p.K});
        const std::string name = algo == "auto" ? conv2d_forward_choose(p).name : algo;
        const std::string isa = isa_name(active_isa());
        const int64_t n = conv2d_packed_floats(p, name);
        if (n == 0) return py::tuple(py::make_tuple(name, isa, py::none()));
        py::array_t<float> packed(n);
        float* out = packed.mutable_data();
        {
          py::gil_scoped_release nogil;
          conv2d_pack(p, wp, bp, name, out);
        }
        return py::tuple(py::make_tuple(name, isa, packed));
      },
      py::arg("x"), py::arg("w"), py::arg("b"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("groups"), py::arg("algo") = "auto",
      "(algorithm, ISA, packed weights or None): w and b packed once for the forward\n"
      "algorithm that 'algo' names or 'auto' picks for x's shape, on the active ISA; None\n"
      "when that algorithm has no packed form.");
  m.def(
      "conv2d_forward_packed",
      [](const py::array& x, const py::array& w, const py::array& packed, py::tuple stride,
         py::tuple padding, py::tuple dilation, int64_t groups, bool relu,
         const py::object& out, const std::string& algo, const std::string& isa) {
        // w gives the weights' shape only; the kernel reads packed.
        ConvParams p = make_params(x, w, stride, padding, dilation, groups, relu);
        const float* xp = py_util::in_ptr(x, "x", {p.N, p.H, p.W, p.C});
        if (isa != isa_name(active_isa()))
          throw py::value_error("packed: made for ISA '" + isa + "', the active one is '" +
                                isa_name(active_isa()) + "'");
        const float* pp = py_util::in_ptr(packed, "packed", {conv2d_packed_floats(p, algo)});
        py::array_t<float> y = py_util::out_array(out, "out", {p.N, p.P, p.Q, p.K});
        float* yp = py_util::mut_ptr(y);
        {
          py::gil_scoped_release nogil;
          conv2d_forward_packed(p, xp, pp, yp, algo);
        }
        return y;
      },
      py::arg("x"), py::arg("w"), py::arg("packed"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("groups"), py::arg("relu"), py::arg("out"),
      py::arg("algo"), py::arg("isa"),
      "conv2d_forward on weights from conv2d_pack (same layer, algorithm and ISA).");
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
