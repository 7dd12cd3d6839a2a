// Shared helpers for the C++ kernels: precondition checks that raise instead of aborting.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace fc {

// Entry points check their preconditions even though Python validated them already:
// a direct caller of fastconv._C gets an exception, never a crash.
#define FC_CHECK(cond, msg)                                          \
  do {                                                               \
    if (!(cond)) throw std::invalid_argument(std::string(msg));      \
  } while (0)

}  // namespace fc
