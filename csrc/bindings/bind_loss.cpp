// Loss bindings: softmax cross-entropy with integer labels (float32 logits, int64 labels).
#include <pybind11/stl.h>

#include <string>
#include <utility>

#include "bind.h"
#include "cpu/loss.h"
#include "util.h"

namespace py = pybind11;

namespace fc {

void bind_loss(py::module_& m) {
  m.def(
      "softmax_cross_entropy_with_grad",
      [](const py::array& logits, const py::array& labels) {
        const float* zp = py_util::in_ptr(logits, "logits", {-1, -1});
        const int64_t n = logits.shape(0), k = logits.shape(1);
        if (!labels.dtype().is(py::dtype::of<int64_t>()) || labels.ndim() != 1 ||
            labels.shape(0) != n || !(labels.flags() & py::array::c_style))
          throw py::value_error("labels: expected C-contiguous int64 of shape (" +
                                std::to_string(n) + ",)");
        const int64_t* lp = static_cast<const int64_t*>(labels.data());
        py::array_t<float> g = py_util::pooled_array({n, k});
        float* gp = py_util::mut_ptr(g);
        double loss;
        {
          py::gil_scoped_release nogil;
          loss = softmax_cross_entropy_with_grad(n, k, zp, lp, gp);
        }
        return std::make_pair(loss, g);
      },
      py::arg("logits"), py::arg("labels"),
      "(mean softmax cross-entropy, its gradient (softmax - onehot) / N) for int labels");
}

}  // namespace fc
