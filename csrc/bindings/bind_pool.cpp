// Pooling bindings: Python has validated already; these re-check and release the GIL.
#include "bind.h"
#include "cpu/pool.h"
#include "util.h"

namespace py = pybind11;

namespace fc {

static PoolParams make_pool(const py::array& x, py::tuple pool, py::tuple stride,
                            py::tuple padding, bool count_include_pad) {
  if (x.ndim() != 4) throw py::value_error("x: expected 4 dimensions (N, H, W, C)");
  if (pool.size() != 2 || stride.size() != 2 || padding.size() != 4)
    throw py::value_error("pool_size, stride: pairs; padding: (top, bottom, left, right)");
  PoolParams p;
  p.N = x.shape(0), p.H = x.shape(1), p.W = x.shape(2), p.C = x.shape(3);
  p.KH = pool[0].cast<int64_t>(), p.KW = pool[1].cast<int64_t>();
  p.stride_h = stride[0].cast<int64_t>(), p.stride_w = stride[1].cast<int64_t>();
  p.pad_t = padding[0].cast<int64_t>(), p.pad_b = padding[1].cast<int64_t>();
  p.pad_l = padding[2].cast<int64_t>(), p.pad_r = padding[3].cast<int64_t>();
  p.count_include_pad = count_include_pad;
  p.finalize();
  return p;
}

void bind_pool(py::module_& m) {
  m.def(
      "max_pool2d_forward",
      [](const py::array& x, py::tuple pool, py::tuple stride, py::tuple padding,
         const py::object& out) {
        PoolParams p = make_pool(x, pool, stride, padding, false);
        const float* xp = py_util::in_ptr(x, "x", {p.N, p.H, p.W, p.C});
        py::array_t<float> y = py_util::out_array(out, "out", {p.N, p.P, p.Q, p.C});
        float* yp = py_util::mut_ptr(y);
        {
          py::gil_scoped_release nogil;
          max_pool2d_forward(p, xp, yp);
        }
        return y;
      },
      py::arg("x"), py::arg("pool_size"), py::arg("stride"), py::arg("padding"),
      py::arg("out") = py::none(), "NHWC max pooling; padding is (top, bottom, left, right).");
  m.def(
      "max_pool2d_backward",
      [](const py::array& dy, const py::array& x, py::tuple pool, py::tuple stride,
         py::tuple padding) {
        PoolParams p = make_pool(x, pool, stride, padding, false);
        const float* xp = py_util::in_ptr(x, "x", {p.N, p.H, p.W, p.C});
        const float* gp = py_util::in_ptr(dy, "dy", {p.N, p.P, p.Q, p.C});
        py::array_t<float> dx = py_util::pooled_array({p.N, p.H, p.W, p.C});
        float* dp = py_util::mut_ptr(dx);
        {
          py::gil_scoped_release nogil;
          max_pool2d_backward(p, gp, xp, dp);
        }
        return dx;
      },
      py::arg("dy"), py::arg("x"), py::arg("pool_size"), py::arg("stride"),
      py::arg("padding"), "dx of max pooling (argmax recomputed; first maximum wins).");
  m.def(
      "avg_pool2d_forward",
      [](const py::array& x, py::tuple pool, py::tuple stride, py::tuple padding,
         bool count_include_pad, const py::object& out) {
        PoolParams p = make_pool(x, pool, stride, padding, count_include_pad);
        const float* xp = py_util::in_ptr(x, "x", {p.N, p.H, p.W, p.C});
        py::array_t<float> y = py_util::out_array(out, "out", {p.N, p.P, p.Q, p.C});
        float* yp = py_util::mut_ptr(y);
        {
          py::gil_scoped_release nogil;
          avg_pool2d_forward(p, xp, yp);
        }
        return y;
      },
      py::arg("x"), py::arg("pool_size"), py::arg("stride"), py::arg("padding"),
      py::arg("count_include_pad") = false, py::arg("out") = py::none(),
      "NHWC average pooling; count_include_pad divides by the window area.");
  m.def(
      "avg_pool2d_backward",
      [](const py::array& dy, const py::array& x, py::tuple pool, py::tuple stride,
         py::tuple padding, bool count_include_pad, bool through_tanh) {
        PoolParams p = make_pool(x, pool, stride, padding, count_include_pad);
        const float* gp = py_util::in_ptr(dy, "dy", {p.N, p.P, p.Q, p.C});
        const float* ty = through_tanh ? py_util::in_ptr(x, "x", {p.N, p.H, p.W, p.C}) : nullptr;
        py::array_t<float> dx = py_util::pooled_array({p.N, p.H, p.W, p.C});
        float* dp = py_util::mut_ptr(dx);
        {
          py::gil_scoped_release nogil;
          avg_pool2d_backward(p, gp, dp, ty);
        }
        return dx;
      },
      py::arg("dy"), py::arg("x"), py::arg("pool_size"), py::arg("stride"),
      py::arg("padding"), py::arg("count_include_pad") = false, py::arg("through_tanh") = false,
      "dx of average pooling (x is used for its shape only), or with through_tanh (x = tanh(u)) "
      "dL/du = dx * (1 - x^2) in the same pass.");
  m.def(
      "global_avg_pool2d_forward",
      [](const py::array& x) {
        const float* xp = py_util::in_ptr(x, "x", {-1, -1, -1, -1});
        const int64_t N = x.shape(0), HW = x.shape(1) * x.shape(2), C = x.shape(3);
        py::array_t<float> y = py_util::pooled_array({N, C});
        float* yp = py_util::mut_ptr(y);
        {
          py::gil_scoped_release nogil;
          global_avg_pool2d_forward(N, HW, C, xp, yp);
        }
        return y;
      },
      py::arg("x"), "mean over H and W: (N, H, W, C) -> (N, C)");
  m.def(
      "global_avg_pool2d_backward",
      [](const py::array& dy, const py::array& x) {
        py_util::check_f32(x, "x", {-1, -1, -1, -1});
        const int64_t N = x.shape(0), H = x.shape(1), W = x.shape(2), C = x.shape(3);
        const float* gp = py_util::in_ptr(dy, "dy", {N, C});
        py::array_t<float> dx = py_util::pooled_array({N, H, W, C});
        float* dp = py_util::mut_ptr(dx);
        {
          py::gil_scoped_release nogil;
          global_avg_pool2d_backward(N, H * W, C, gp, dp);
        }
        return dx;
      },
      py::arg("dy"), py::arg("x"), "dx of global average pooling: dy / (H * W) everywhere");
}

}  // namespace fc
