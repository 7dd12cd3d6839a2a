// Instruction-set variants and run-time selection (CPUID, overridable by FASTCONV_ISA).
#pragma once
#include <string>
#include <vector>

namespace fc {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
Isa isa_from_name(const std::string& name);   // throws on unknown names
bool isa_supported(Isa isa);                  // compiled in and supported by this CPU
std::vector<std::string> supported_isas();    // best first
std::vector<std::string> cpu_features();      // the features that matter to us
Isa best_isa();
Isa active_isa();
void set_active_isa(Isa isa);                 // throws if unsupported

}  // namespace fc

// Calls fn from the namespace of the active ISA: fc::isa_avx512::fn(...), and so on.
#if defined(FC_HAVE_ISA_avx512)
#define FC_DISPATCH(fn, ...)                                                  \
  do {                                                                        \
    switch (::fc::active_isa()) {                                             \
      case ::fc::Isa::avx512: ::fc::isa_avx512::fn(__VA_ARGS__); break;       \
      case ::fc::Isa::avx2: ::fc::isa_avx2::fn(__VA_ARGS__); break;           \
      default: ::fc::isa_generic::fn(__VA_ARGS__); break;                     \
    }                                                                         \
  } while (0)
// Declares one function in every ISA namespace.
#define FC_DECLARE_ISA_FN(decl)            \
  namespace isa_generic { decl; }          \
  namespace isa_avx2 { decl; }             \
  namespace isa_avx512 { decl; }
#else
#define FC_DISPATCH(fn, ...) ::fc::isa_generic::fn(__VA_ARGS__)
#define FC_DECLARE_ISA_FN(decl) namespace isa_generic { decl; }
#endif
