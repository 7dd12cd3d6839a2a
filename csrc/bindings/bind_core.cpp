// Build and machine facts, the ISA switch and the thread count.
#include <pybind11/stl.h>

#include "bind.h"
#include "cpu/isa.h"
#include "cpu/memory.h"
#include "cpu/threads.h"

#ifndef FC_VERSION
#define FC_VERSION "unknown"
#endif
#ifndef FC_CUDA_COMPILER
#define FC_CUDA_COMPILER ""
#endif
#ifndef FC_CXX_COMPILER
#define FC_CXX_COMPILER "unknown"
#endif

namespace py = pybind11;

namespace fc {

void bind_core(py::module_& m) {
  m.attr("__version__") = FC_VERSION;
  m.attr("cxx_compiler") = FC_CXX_COMPILER;
  m.attr("cuda_compiler") = FC_CUDA_COMPILER;  // found at build time ("" if none)
  m.attr("cuda_built") = false;                // no CUDA kernels in this build yet
  m.def("active_isa", [] { return std::string(isa_name(active_isa())); });
  m.def("best_isa", [] { return std::string(isa_name(best_isa())); });
  m.def("supported_isas", &supported_isas);
  m.def("cpu_features", &cpu_features);
  m.def("set_isa", [](const std::string& name) { set_active_isa(isa_from_name(name)); },
        py::arg("name"));
  m.def("get_num_threads", &num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("max_threads", &max_threads);
  // Tests: the multiply-adds below which conv kernels run on one thread (kSerialConvMacs by
  // default); lowering it lets small shapes check the thread-count independence.
  m.def("_serial_conv_macs", &serial_conv_macs);
  m.def("_set_serial_conv_macs", &set_serial_conv_macs, py::arg("macs"));
  m.def("pool_cached_bytes", &pool_cached_bytes,
        "bytes of freed output arrays the caching pool keeps for reuse");
  m.def("pool_release", &pool_release, "return the pool's cached blocks to the system");
  m.def("pool_live_bytes", &pool_live_bytes, "bytes of pooled arrays alive right now");
  m.def("pool_peak_bytes", &pool_peak_bytes,
        "the most bytes of pooled arrays alive at once since start or pool_reset_peak()");
  m.def("pool_reset_peak", &pool_reset_peak, "restart pool_peak_bytes from the live bytes");
  m.def("workspace_bytes", &workspace_bytes,
        "bytes of the kernels' scratch buffers, every thread's together");
}

}  // namespace fc
