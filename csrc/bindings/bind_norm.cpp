// Batch-norm bindings: x is (N, C) or (N, H, W, C), viewed as M = size / C rows of C.
#include "bind.h"
#include "cpu/batch_norm.h"
#include "util.h"

namespace py = pybind11;

namespace fc {

static std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// Checks x (2-D or 4-D float32, C-contiguous) and returns (M, C).
static std::pair<int64_t, int64_t> rows_channels(const py::array& x, const char* name) {
  if (x.ndim() != 2 && x.ndim() != 4)
    throw py::value_error(std::string(name) + ": expected 2 or 4 dimensions");
  py_util::check_f32(x, name, std::vector<int64_t>(x.ndim(), -1));
  const int64_t C = x.shape(x.ndim() - 1);
  if (x.size() == 0) throw py::value_error(std::string(name) + ": empty array");
  return {static_cast<int64_t>(x.size()) / C, C};
}

// The residual added before the ReLU: null if None, else x's shape (checked).
static const float* residual_ptr(const py::object& residual, const py::array& x) {
  if (residual.is_none()) return nullptr;
  if (!py::isinstance<py::array>(residual)) throw py::type_error("residual: expected an array");
  return py_util::in_ptr(py::reinterpret_borrow<py::array>(residual), "residual", shape_of(x));
}

void bind_norm(py::module_& m) {
  m.def(
      "batch_norm_forward_train",
      [](const py::array& x, const py::array& gamma, const py::array& beta, double eps,
         bool relu, const py::object& out, const py::object& residual) {
        auto [M, C] = rows_channels(x, "x");
        const float* xp = static_cast<const float*>(x.data());
        const float* gp = py_util::in_ptr(gamma, "gamma", {C});
        const float* bp = py_util::in_ptr(beta, "beta", {C});
        const float* zp = residual_ptr(residual, x);
        py::array_t<float> y = py_util::out_array(out, "out", shape_of(x));
        py::array_t<double> mean(C), var(C);
        py::array_t<float> invstd(C);
        float* yp = py_util::mut_ptr(y);
        double* mp = mean.mutable_data();
        double* vp = var.mutable_data();
        float* ip = invstd.mutable_data();
        {
          py::gil_scoped_release nogil;
          batch_norm_forward_train(M, C, xp, gp, bp, eps, relu, yp, mp, vp, ip, zp);
        }
        return py::make_tuple(y, mean, var, invstd);
      },
      py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("eps"), py::arg("relu") = false,
      py::arg("out") = py::none(), py::arg("residual") = py::none(),
      "training batch norm: returns (y, mean float64, biased var float64, invstd)");
  m.def(
      "batch_norm_forward_infer",
      [](const py::array& x, const py::array& gamma, const py::array& beta,
         const py::array& mean, const py::array& var, double eps, bool relu,
         const py::object& out, const py::object& residual) {
        auto [M, C] = rows_channels(x, "x");
        const float* xp = static_cast<const float*>(x.data());
        const float* gp = py_util::in_ptr(gamma, "gamma", {C});
        const float* bp = py_util::in_ptr(beta, "beta", {C});
        const float* mp = py_util::in_ptr(mean, "running_mean", {C});
        const float* vp = py_util::in_ptr(var, "running_var", {C});
        const float* zp = residual_ptr(residual, x);
        py::array_t<float> y = py_util::out_array(out, "out", shape_of(x));
        float* yp = py_util::mut_ptr(y);
        {
          py::gil_scoped_release nogil;
          batch_norm_forward_infer(M, C, xp, gp, bp, mp, vp, eps, relu, yp, zp);
        }
        return y;
      },
      py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("mean"), py::arg("var"),
      py::arg("eps"), py::arg("relu") = false, py::arg("out") = py::none(),
      py::arg("residual") = py::none(),
      "inference batch norm with the given statistics");
  m.def(
      "batch_norm_backward",
      [](const py::array& dy, const py::array& x, const py::object& y, const py::array& gamma,
         const py::array& mean, const py::array& invstd, bool training) {
        auto [M, C] = rows_channels(x, "x");
        const std::vector<int64_t> shape = shape_of(x);
        const float* xp = static_cast<const float*>(x.data());
        const float* gp = py_util::in_ptr(dy, "dy", shape);
        const float* yp = nullptr;
        if (!y.is_none()) yp = py_util::in_ptr(y.cast<py::array>(), "y", shape);
        const float* gam = py_util::in_ptr(gamma, "gamma", {C});
        const float* mp = py_util::in_ptr(mean, "mean", {C});
        const float* ip = py_util::in_ptr(invstd, "invstd", {C});
        py::array_t<float> dx = py_util::pooled_array(shape);
        py::array_t<float> dgamma(C), dbeta(C);
        float* dxp = py_util::mut_ptr(dx);
        float* dgp = dgamma.mutable_data();
        float* dbp = dbeta.mutable_data();
        {
          py::gil_scoped_release nogil;
          batch_norm_backward(M, C, gp, xp, yp, gam, mp, ip, training, dxp, dgp, dbp);
        }
        return py::make_tuple(dx, dgamma, dbeta);
      },
      py::arg("dy"), py::arg("x"), py::arg("y"), py::arg("gamma"), py::arg("mean"),
      py::arg("invstd"), py::arg("training") = true,
      "(dx, dgamma, dbeta) of batch norm; y (or None) is a fused-ReLU output masking dy");
}

}  // namespace fc
