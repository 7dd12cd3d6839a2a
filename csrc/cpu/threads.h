// One thread-count setting for every OpenMP region in the library.
#pragma once

#include <omp.h>

namespace fc {

int num_threads();            // the count every parallel region uses
void set_num_threads(int n);  // n >= 1
int max_threads();            // what OpenMP would use by default

// Multiply-adds below which a convolution kernel runs on the calling thread. Between two ops
// the second core's worker has gone to sleep, and on the shared 2-core host it then waits for
// that core: LeNet-5's layers at batch 32 (3.8 M and 7.7 M, 0.3-0.6 ms on one thread) ran
// 1.4-2x slower on 2 threads than on 1 with the host loaded (median of 60 calls alternating:
// conv1 forward 295 -> 497 us, conv2 forward 308 -> 507, dx 558 -> 1048, dw 597 -> 897), and
// the epoch at 2 threads lost to 1 thread. Above it (ResNet-50, VGG-16, Inception 5x5 at
// batch 1: >= 10 M) the split pays. Results never depend on it (kernels split work into
// thread-count independent tasks).
inline constexpr double kSerialConvMacs = double(1 << 23);
double serial_conv_macs();               // kSerialConvMacs unless a test changed it
void set_serial_conv_macs(double macs);  // tests: small shapes on several threads

// Threads for a convolution region doing `work` multiply-adds.
inline int threads_for_work(double work) {
  return work < serial_conv_macs() ? 1 : num_threads();
}

// Runs body() in an OpenMP region of nt threads; with nt == 1 outside any region, directly on
// the calling thread, where body's orphaned `omp for` loops run whole and their barriers are
// free. libgomp ends every barrier of a region, even a one-thread one, with a futex wake (a
// syscall, 1.5 us here; 3 per Winograd call). Inside another region (dx and dw side by side)
// body still gets a region of its own, so its loops do not bind to the outer team.
template <class Body>
inline void parallel_region(int nt, Body&& body) {
  if (nt <= 1 && !omp_in_parallel()) {
    body();
    return;
  }
#pragma omp parallel num_threads(nt)
  body();
}

}  // namespace fc
