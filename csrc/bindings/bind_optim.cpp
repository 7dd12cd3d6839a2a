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

// An element of one of adam_update_multi's lists: an ndarray as it is (never a converted copy,
// the update is in place), checked like adam_update's arguments.
static py::array list_array(const py::sequence& seq, size_t i, const char* list) {
  py::object o = seq[i];
  if (!py::isinstance<py::array>(o))
    throw py::type_error(std::string(list) + "[" + std::to_string(i) +
                         "]: expected a numpy array, got " +
                         std::string(py::str(o.get_type().attr("__name__"))));
  return py::reinterpret_borrow<py::array>(o);
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
  m.def(
      "adam_update_multi",
      [](const py::sequence& ws, const py::sequence& gs, const py::sequence& ms,
         const py::sequence& vs, const py::sequence& scalars) {
        const size_t count = ws.size();
        if (gs.size() != count || ms.size() != count || vs.size() != count ||
            scalars.size() != count)
          throw py::value_error("adam_update_multi: ws, gs, ms, vs and scalars must have the "
                                "same length");
        std::vector<int64_t> n(count);
        std::vector<float*> wp(count), mp(count), vp(count);
        std::vector<const float*> gp(count);
        std::vector<AdamScalars> s(count);
        // every array is checked before any is updated: an error leaves all untouched
        for (size_t i = 0; i < count; ++i) {
          const py::array w = list_array(ws, i, "ws");
          const std::vector<int64_t> shape(w.shape(), w.shape() + w.ndim());
          const std::string at = "[" + std::to_string(i) + "]";
          wp[i] = inout_ptr(w, ("ws" + at).c_str(), shape);
          gp[i] = py_util::in_ptr(list_array(gs, i, "gs"), ("gs" + at).c_str(), shape);
          mp[i] = inout_ptr(list_array(ms, i, "ms"), ("ms" + at).c_str(), shape);
          vp[i] = inout_ptr(list_array(vs, i, "vs"), ("vs" + at).c_str(), shape);
          if (mp[i] == wp[i] || vp[i] == wp[i] || vp[i] == mp[i] || gp[i] == mp[i] ||
              gp[i] == vp[i] || gp[i] == wp[i])
            throw py::value_error("adam_update_multi: ws" + at + ", gs" + at + ", ms" + at +
                                  " and vs" + at + " must be distinct arrays");
          const py::object so = scalars[i];
          if (!py::isinstance<py::sequence>(so))
            throw py::type_error("scalars" + at + ": expected a tuple of 7 floats");
          const py::sequence t = so.cast<py::sequence>();
          if (t.size() != 7)
            throw py::value_error("scalars" + at + ": expected (lr_t, b1, b2, c2, eps, l2, "
                                  "decay), got " + std::to_string(t.size()) + " values");
          float f[7];
          for (size_t j = 0; j < 7; ++j) f[j] = t[j].cast<float>();
          s[i] = AdamScalars{f[0], f[1], f[2], f[3], f[4], f[5], f[6]};
          n[i] = w.size();
        }
        py::gil_scoped_release nogil;
        adam_update_multi(static_cast<int64_t>(count), n.data(), wp.data(), gp.data(), mp.data(),
                          vp.data(), s.data());
      },
      py::arg("ws"), py::arg("gs"), py::arg("ms"), py::arg("vs"), py::arg("scalars"),
      "adam_update on each (ws[i], gs[i], ms[i], vs[i]) with scalars[i] = (lr_t, b1, b2, c2, "
      "eps, l2, decay), in order, after checking them all.");
}

}  // namespace fc
