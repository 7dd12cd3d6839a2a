// conv2d_backward bindings: Python has validated already; these re-check and release the GIL.
#include <pybind11/stl.h>

#include "bind.h"
#include "cpu/conv2d_backward.h"
#include "conv_params.h"
#include "util.h"

namespace py = pybind11;

namespace fc {

void bind_conv_backward(py::module_& m) {
  m.def("conv2d_backward_algos", &conv2d_backward_algos,
        "conv2d_backward variants ('auto' first); tests run every one");
  m.def(
      "conv2d_backward",
      [](const py::array& dy, const py::array& x, const py::array& w, py::tuple stride,
         py::tuple padding, py::tuple dilation, int64_t groups, bool need_dx, bool need_dw,
         bool need_db, const std::string& algo) {
        ConvParams p = make_params(x, w, stride, padding, dilation, groups, false);
        const float* dyp = py_util::in_ptr(dy, "dy", {p.N, p.P, p.Q, p.K});
        const float* xp = py_util::in_ptr(x, "x", {p.N, p.H, p.W, p.C});
        const float* wp = py_util::in_ptr(w, "w", {p.R, p.S, p.Cg(), p.K});
        py::object dx = py::none(), dw = py::none(), db = py::none();
        float *dxp = nullptr, *dwp = nullptr, *dbp = nullptr;
        if (need_dx) {
          auto a = py_util::pooled_array({p.N, p.H, p.W, p.C});
          dxp = py_util::mut_ptr(a);
          dx = a;
        }
        if (need_dw) {
          auto a = py_util::pooled_array({p.R, p.S, p.Cg(), p.K});
          dwp = py_util::mut_ptr(a);
          dw = a;
        }
        if (need_db) {
          auto a = py_util::pooled_array({p.K});
          dbp = py_util::mut_ptr(a);
          db = a;
        }
        {
          py::gil_scoped_release nogil;
          conv2d_backward(p, dyp, xp, wp, dxp, dwp, dbp, algo);
        }
        return py::make_tuple(dx, dw, db);
      },
      py::arg("dy"), py::arg("x"), py::arg("w"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("groups"), py::arg("need_dx") = true,
      py::arg("need_dw") = true, py::arg("need_db") = true, py::arg("algo") = "auto",
      "(dx, dw, db) of conv2d, NHWC/HWIO float32; padding is (top, bottom, left, right); "
      "a gradient not needed is None.");
}

}  // namespace fc
