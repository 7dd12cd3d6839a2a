// Machine probes for the benchmark harness (bench/harness.py).
#include "bind.h"
#include "cpu/probe.h"

namespace py = pybind11;

namespace fc {

void bind_probe(py::module_& m) {
  m.def(
      "fma_peak_gflops",
      [](int threads, double seconds) {
        py::gil_scoped_release nogil;
        return fma_peak_gflops(threads, seconds);
      },
      py::arg("threads"), py::arg("seconds") = 0.2,
      "Measured FP32 FMA peak (GFLOP/s) of the active ISA on `threads` OpenMP threads, "
      "best of several runs over about `seconds`.");
  m.def(
      "fma_sustained_gflops",
      [](int threads, double seconds) {
        py::gil_scoped_release nogil;
        return fma_rates(threads, seconds).sustained;
      },
      py::arg("threads"), py::arg("seconds") = 0.2,
      "FP32 FMA throughput (GFLOP/s) over all the timed runs of about `seconds` together "
      "(not the best one): the rate a kernel as long as the window could have reached.");
}

}  // namespace fc
