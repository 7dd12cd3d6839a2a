#include "threads.h"

#include <omp.h>

#include <atomic>
#include <stdexcept>

namespace fc {
namespace {
// Read on every kernel call from whichever Python thread calls; omp_set_num_threads alone
// would only affect the thread that set it.
std::atomic<int>& count() {
  static std::atomic<int> n{omp_get_max_threads()};
  return n;
}
}  // namespace

// Inside an active region (dx and dw side by side) a kernel's own region would nest: it runs
// on the calling thread instead.
int num_threads() { return omp_in_parallel() ? 1 : count().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("num_threads must be >= 1");
  count().store(n);
}

int max_threads() { return omp_get_max_threads(); }

namespace {
std::atomic<double>& serial_macs() {
  static std::atomic<double> m{kSerialConvMacs};
  return m;
}
}  // namespace

double serial_conv_macs() { return serial_macs().load(std::memory_order_relaxed); }

void set_serial_conv_macs(double macs) {
  if (!(macs >= 0)) throw std::invalid_argument("serial_conv_macs must be >= 0");
  serial_macs().store(macs);
}

}  // namespace fc
