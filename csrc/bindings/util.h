// Argument checks shared by every binding: the C++ entry points raise on bad arrays.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "cpu/memory.h"

namespace fc::py_util {
namespace py = pybind11;

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

// A C-contiguous float32 array of the given ndim (and shape, where not -1).
inline void check_f32(const py::array& a, const char* name, const std::vector<int64_t>& shape) {
  if (!a.dtype().is(py::dtype::of<float>()))
    throw py::type_error(std::string(name) + ": expected float32, got " +
                         std::string(py::str(a.dtype())));
  if (a.ndim() != static_cast<py::ssize_t>(shape.size()))
    throw py::value_error(std::string(name) + ": expected " + std::to_string(shape.size()) +
                          " dimensions, got " + std::to_string(a.ndim()));
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] >= 0 && a.shape(i) != shape[i]) {
      std::vector<int64_t> got(a.shape(), a.shape() + a.ndim());
      throw py::value_error(std::string(name) + ": expected shape " + shape_str(shape) +
                            ", got " + shape_str(got));
    }
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + ": must be C-contiguous");
}

inline const float* in_ptr(const py::array& a, const char* name,
                           const std::vector<int64_t>& shape) {
  check_f32(a, name, shape);
  return static_cast<const float*>(a.data());
}

// A new C-contiguous float32 array whose memory comes from the caching pool (memory.h).
inline py::array_t<float> pooled_array(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  void* p = pool_alloc(n * sizeof(float));
  py::capsule owner(p, [](void* q) { pool_free(q); });
  return py::array_t<float>(std::vector<py::ssize_t>(shape.begin(), shape.end()),
                            static_cast<float*>(p), owner);
}

// The output array: `out` if given (checked: shape, dtype, contiguous, writable), else new.
inline py::array_t<float> out_array(const py::object& out, const char* name,
                                    const std::vector<int64_t>& shape) {
  if (out.is_none()) return pooled_array(shape);
  if (!py::isinstance<py::array>(out)) throw py::type_error(std::string(name) + ": expected a numpy array");
  py::array a = py::reinterpret_borrow<py::array>(out);
  check_f32(a, name, shape);
  if (!a.writeable()) throw py::value_error(std::string(name) + ": array is read-only");
  return py::reinterpret_borrow<py::array_t<float>>(a);
}

inline float* mut_ptr(py::array_t<float>& a) { return static_cast<float*>(a.mutable_data()); }

}  // namespace fc::py_util
