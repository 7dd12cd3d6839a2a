// conv2d_backward bindings: Python has validated already; these re-check and release the GIL.
#include <pybind11/stl.h>

#include "bind.h"
#include "cpu/conv2d_backward.h"
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
        p.finalize();
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
