#include "bind.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastconv C++ CPU kernels (NHWC, float32)";
  fc::bind_core(m);
  fc::bind_conv(m);
  fc::bind_pool(m);
  fc::bind_norm(m);
  fc::bind_eltwise(m);
  fc::bind_conv_backward(m);
  fc::bind_probe(m);
  fc::bind_dense(m);
  fc::bind_optim(m);
  fc::bind_loss(m);
}
