// Fully connected layer bindings: x (N, C), w (C, K), b (K,) or None; float32, C-contiguous.
#include <pybind11/stl.h>

#include "bind.h"
#include "cpu/dense.h"
#include "util.h"

namespace py = pybind11;

namespace fc {

// x must be (N, C) with C = w's rows.
static const float* rows_of(const py::array& x, int64_t C) {
  const float* p = py_util::in_ptr(x, "x", {-1, -1});
  if (x.shape(1) != C)
    throw py::value_error("x: expected " + std::to_string(C) + " features (w has " +
                          std::to_string(C) + " rows), got shape (" + std::to_string(x.shape(0)) +
                          ", " + std::to_string(x.shape(1)) + ")");
  return p;
}

void bind_dense(py::module_& m) {
  m.def(
      "dense_forward",
      [](const py::array& x, const py::array& w, const py::object& b, bool relu) {
        const float* wp = py_util::in_ptr(w, "w", {-1, -1});
        const int64_t C = w.shape(0), K = w.shape(1);
        const float* xp = rows_of(x, C);
        const int64_t N = x.shape(0);
        const float* bp = nullptr;
        if (!b.is_none()) {
          if (!py::isinstance<py::array>(b)) throw py::type_error("b: expected a numpy array");
          bp = py_util::in_ptr(py::reinterpret_borrow<py::array>(b), "b", {K});
        }
        if (N < 1 || C < 1 || K < 1) throw py::value_error("dense: empty x or w");
        py::array_t<float> y = py_util::pooled_array({N, K});
        float* yp = py_util::mut_ptr(y);
        {
          py::gil_scoped_release nogil;
          dense_forward(N, C, K, xp, wp, bp, relu, yp);
        }
        return y;
      },
      py::arg("x"), py::arg("w"), py::arg("b") = py::none(), py::arg("relu") = false,
      "x @ w + b, optionally max(., 0)");
  m.def(
      "dense_backward",
      [](const py::array& dy, const py::array& x, const py::array& w, bool need_dx,
         bool need_dw, bool need_db) {
        const float* wp = py_util::in_ptr(w, "w", {-1, -1});
        const int64_t C = w.shape(0), K = w.shape(1);
        const float* xp = rows_of(x, C);
        const int64_t N = x.shape(0);
        const float* dyp = py_util::in_ptr(dy, "dy", {N, K});
        if (N < 1 || C < 1 || K < 1) throw py::value_error("dense_backward: empty x or w");
        py::object dx = py::none(), dw = py::none(), db = py::none();
        float *dxp = nullptr, *dwp = nullptr, *dbp = nullptr;
        if (need_dx) {
          auto a = py_util::pooled_array({N, C});
          dxp = py_util::mut_ptr(a);
          dx = a;
        }
        if (need_dw) {
          auto a = py_util::pooled_array({C, K});
          dwp = py_util::mut_ptr(a);
          dw = a;
        }
        if (need_db) {
          auto a = py_util::pooled_array({K});
          dbp = py_util::mut_ptr(a);
          db = a;
        }
        {
          py::gil_scoped_release nogil;
          dense_backward(N, C, K, dyp, xp, wp, dxp, dwp, dbp);
        }
        return py::make_tuple(dx, dw, db);
      },
      py::arg("dy"), py::arg("x"), py::arg("w"), py::arg("need_dx") = true,
      py::arg("need_dw") = true, py::arg("need_db") = true,
      "(dy @ w.T, x.T @ dy, sum over rows of dy); a gradient not wanted is None");
}

}  // namespace fc
