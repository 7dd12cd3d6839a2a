// Element-wise and concat bindings (arrays of any shape, float32, C-contiguous).
#include <pybind11/stl.h>

#include "bind.h"
#include "cpu/eltwise.h"
#include "util.h"

namespace py = pybind11;

namespace fc {

static std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

static const float* any_f32(const py::array& a, const char* name) {
  return py_util::in_ptr(a, name, std::vector<int64_t>(a.ndim(), -1));
}

// dx = f(dy, y) element-wise from the forward's output y (relu, tanh).
static void def_grad_from_output(py::module_& m, const char* name,
                                 void (*fn)(int64_t, const float*, const float*, float*),
                                 const char* doc) {
  m.def(
      name,
      [fn](const py::array& dy, const py::array& y) {
        const float* yp = any_f32(y, "y");
        const float* gp = py_util::in_ptr(dy, "dy", shape_of(y));
        py::array_t<float> dx = py_util::pooled_array(shape_of(y));
        float* dp = py_util::mut_ptr(dx);
        const int64_t n = y.size();
        {
          py::gil_scoped_release nogil;
          fn(n, gp, yp, dp);
        }
        return dx;
      },
      py::arg("dy"), py::arg("y"), doc);
}

void bind_eltwise(py::module_& m) {
  m.def(
      "relu_forward",
      [](const py::array& x, const py::object& out) {
        const float* xp = any_f32(x, "x");
        py::array_t<float> y = py_util::out_array(out, "out", shape_of(x));
        float* yp = py_util::mut_ptr(y);
        const int64_t n = x.size();
        {
          py::gil_scoped_release nogil;
          relu_forward(n, xp, yp);
        }
        return y;
      },
      py::arg("x"), py::arg("out") = py::none(), "max(x, 0)");
  def_grad_from_output(m, "relu_backward", &relu_backward, "dy * (y > 0)");
  def_grad_from_output(m, "tanh_backward", &tanh_backward, "dy * (1 - y^2), y = tanh(x)");
  m.def(
      "sum_relu_backward",
      [](const py::array& a, const py::array& b, const py::array& y) {
        const float* yp = any_f32(y, "y");
        const float* ap = py_util::in_ptr(a, "a", shape_of(y));
        const float* bp = py_util::in_ptr(b, "b", shape_of(y));
        py::array_t<float> dx = py_util::pooled_array(shape_of(y));
        float* dp = py_util::mut_ptr(dx);
        const int64_t n = y.size();
        {
          py::gil_scoped_release nogil;
          sum_relu_backward(n, ap, bp, yp, dp);
        }
        return dx;
      },
      py::arg("a"), py::arg("b"), py::arg("y"), "(a + b) * (y > 0)");
  m.def(
      "add_forward",
      [](const py::array& a, const py::array& b, bool relu, const py::object& out) {
        const float* ap = any_f32(a, "a");
        const float* bp = py_util::in_ptr(b, "b", shape_of(a));
        py::array_t<float> y = py_util::out_array(out, "out", shape_of(a));
        float* yp = py_util::mut_ptr(y);
        const int64_t n = a.size();
        {
          py::gil_scoped_release nogil;
          add_forward(n, ap, bp, relu, yp);
        }
        return y;
      },
      py::arg("a"), py::arg("b"), py::arg("relu") = false, py::arg("out") = py::none(),
      "a + b, optionally max(a + b, 0)");
  m.def(
      "concat_last",
      [](const std::vector<py::array>& xs) {
        if (xs.empty()) throw py::value_error("xs: empty list");
        std::vector<int64_t> shape = shape_of(xs[0]);
        const size_t nd = shape.size();
        if (nd == 0) throw py::value_error("xs[0]: expected at least 1 dimension");
        std::vector<const float*> ptrs;
        std::vector<int64_t> widths;
        int64_t total = 0;
        for (size_t i = 0; i < xs.size(); ++i) {
          std::vector<int64_t> s = shape;
          s[nd - 1] = -1;
          const std::string name = "xs[" + std::to_string(i) + "]";
          ptrs.push_back(py_util::in_ptr(xs[i], name.c_str(), s));
          widths.push_back(xs[i].shape(nd - 1));
          total += widths.back();
        }
        shape[nd - 1] = total;
        const int64_t rows = total ? static_cast<int64_t>(xs[0].size()) / widths[0] : 0;
        py::array_t<float> y = py_util::pooled_array(shape);
        float* yp = py_util::mut_ptr(y);
        {
          py::gil_scoped_release nogil;
          concat_last_axis(rows, static_cast<int64_t>(xs.size()), ptrs.data(), widths.data(),
                           yp);
        }
        return y;
      },
      py::arg("xs"), "concatenation along the last axis (NHWC channels)");
  m.def(
      "split_last",
      [](const py::array& dy, const std::vector<int64_t>& widths) {
        const float* gp = any_f32(dy, "dy");
        std::vector<int64_t> shape = shape_of(dy);
        if (shape.empty() || widths.empty()) throw py::value_error("sizes: empty");
        int64_t total = 0;
        for (int64_t w : widths) {
          if (w < 1) throw py::value_error("sizes: every size must be >= 1");
          total += w;
        }
        if (total != shape.back()) throw py::value_error("sizes: must sum to dy.shape[-1]");
        const int64_t rows = static_cast<int64_t>(dy.size()) / total;
        py::list outs;
        std::vector<float*> ptrs;
        for (int64_t w : widths) {
          shape.back() = w;
          py::array_t<float> o = py_util::pooled_array(shape);
          ptrs.push_back(py_util::mut_ptr(o));
          outs.append(o);
        }
        {
          py::gil_scoped_release nogil;
          split_last_axis(rows, static_cast<int64_t>(widths.size()), gp, widths.data(),
                          ptrs.data());
        }
        return outs;
      },
      py::arg("dy"), py::arg("sizes"), "split along the last axis into pieces of the sizes");
}

}  // namespace fc
