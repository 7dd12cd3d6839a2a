// One registration function per op family; module.cpp calls each.
#pragma once
#include <pybind11/pybind11.h>

namespace fc {
void bind_core(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_pool(pybind11::module_& m);
void bind_norm(pybind11::module_& m);
void bind_eltwise(pybind11::module_& m);
void bind_conv_backward(pybind11::module_& m);
void bind_probe(pybind11::module_& m);
void bind_dense(pybind11::module_& m);
void bind_optim(pybind11::module_& m);
void bind_loss(pybind11::module_& m);
}  // namespace fc
