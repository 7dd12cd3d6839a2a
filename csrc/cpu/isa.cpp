#include "isa.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace fc {
namespace {

bool cpu_has(const char* feature) {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  // __builtin_cpu_supports needs literal arguments.
  std::string f(feature);
  if (f == "avx2") return __builtin_cpu_supports("avx2");
  if (f == "fma") return __builtin_cpu_supports("fma");
  if (f == "avx512f") return __builtin_cpu_supports("avx512f");
  if (f == "avx512bw") return __builtin_cpu_supports("avx512bw");
  if (f == "avx512dq") return __builtin_cpu_supports("avx512dq");
  if (f == "avx512vl") return __builtin_cpu_supports("avx512vl");
  if (f == "avx512vnni") return __builtin_cpu_supports("avx512vnni");
  if (f == "avx512bf16") return __builtin_cpu_supports("avx512bf16");
  return false;
#else
  (void)feature;
  return false;
#endif
}

Isa initial_isa() {
  const char* env = std::getenv("FASTCONV_ISA");
  if (env && *env) {
    Isa isa = isa_from_name(env);
    if (!isa_supported(isa))
      throw std::runtime_error(std::string("FASTCONV_ISA=") + env +
                               " is not supported by this CPU or build");
    return isa;
  }
  return best_isa();
}

std::atomic<int>& active() {
  static std::atomic<int> isa{static_cast<int>(initial_isa())};
  return isa;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

Isa isa_from_name(const std::string& name) {
  if (name == "avx512") return Isa::avx512;
  if (name == "avx2") return Isa::avx2;
  if (name == "generic") return Isa::generic;
  throw std::invalid_argument("unknown ISA '" + name + "' (expected generic, avx2 or avx512)");
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::generic: return true;
#if defined(FC_HAVE_ISA_avx2)
    case Isa::avx2: return cpu_has("avx2") && cpu_has("fma");
#endif
#if defined(FC_HAVE_ISA_avx512)
    case Isa::avx512:
      return cpu_has("avx512f") && cpu_has("avx512bw") && cpu_has("avx512dq") &&
             cpu_has("avx512vl") && cpu_has("avx2") && cpu_has("fma");
#endif
    default: return false;
  }
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic})
    if (isa_supported(isa)) out.push_back(isa_name(isa));
  return out;
}

std::vector<std::string> cpu_features() {
  std::vector<std::string> out;
  for (const char* f : {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl",
                        "avx512vnni", "avx512bf16"})
    if (cpu_has(f)) out.push_back(f);
  return out;
}

Isa best_isa() {
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (isa_supported(isa)) return isa;
  return Isa::generic;
}

Isa active_isa() { return static_cast<Isa>(active().load(std::memory_order_relaxed)); }

void set_active_isa(Isa isa) {
  if (!isa_supported(isa))
    throw std::invalid_argument(std::string("ISA '") + isa_name(isa) +
                                "' is not supported by this CPU or build");
  active().store(static_cast<int>(isa));
}

}  // namespace fc
