// Optimizer-update bindings: in place on the parameter and its state (float32, C-contiguous).
#include "bind.h"
#include "cpu/optim.h"
#include "util.h"

namespace py = pybind11;

namespace fc {

static float* inout_ptr(const py::array& a, const char* name, const std::vector<int64_t>& shape) {
  py_util::check_f32(a, name, shape);
  if (!a.writeable()) throw py::value_error(std::string(name) + ": array is read-only");
  return static_cast<float*>(const_cast<void*>(a.data()));
}

void bind_optim(py::module_& m) {
  m.def(
      "adam_update",
      [](const py::array& w, const py::array& g, const py::array& mo, const py::array& v,
         float lr_t, float b1, float b2, float c2, float eps, float l2, float decay) {
        const std::vector<int64_t> shape(w.shape(), w.shape() + w.ndim());
        float* wp = inout_ptr(w, "w", shape);
        const float* gp = py_util::in_ptr(g, "g", shape);
        float* mp = inout_ptr(mo, "m", shape);
        float* vp = inout_ptr(v, "v", shape);
        if (mp == wp || vp == wp || vp == mp || gp == mp || gp == vp || gp == wp)
          throw py::value_error("adam_update: w, g, m and v must be distinct arrays");
        const AdamScalars s{lr_t, b1, b2, c2, eps, l2, decay};
        const int64_t n = w.size();
        py::gil_scoped_release nogil;
        adam_update(n, wp, gp, mp, vp, s);
      },
      py::arg("w"), py::arg("g"), py::arg("m"), py::arg("v"), py::arg("lr_t"), py::arg("b1"),
      py::arg("b2"), py::arg("c2"), py::arg("eps"), py::arg("l2"), py::arg("decay"),
      "One Adam step in place: g' = g + l2 w; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2; "
      "w -= lr_t m / (sqrt(v) c2 + eps) + decay w.");
}

}  // namespace fc
