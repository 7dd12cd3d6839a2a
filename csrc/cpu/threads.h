// One thread-count setting for every OpenMP region in the library.
#pragma once

#include <omp.h>

#include <cstdint>

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

// A team for kernels that split their loops with for_static() rather than `omp for`: the
// OpenMP team of parallel_region, or just the calling thread. libgomp ends every barrier of a
// region, even a one-thread one, with a futex wake (a syscall, ~1.5 us here), and dx and dw
// side by side nest one-thread regions (about 20 futex calls per Inception 5x5 backward at
// batch 1); a team of one needs no region and no barrier.
struct Team {
  int tid = 0, size = 1;
};
inline thread_local Team tl_team;

// Runs body() on a team of nt threads; on the calling thread alone when nt == 1 or inside
// another region (nested regions get one thread anyway).
template <class Body>
inline void parallel_region(int nt, Body&& body) {
  if (nt <= 1 || omp_in_parallel()) {
    const Team outer = tl_team;
    tl_team = Team{};
    body();
    tl_team = outer;
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const Team outer = tl_team;  // each thread's own
    tl_team = Team{omp_get_thread_num(), omp_get_num_threads()};
    body();
    tl_team = outer;
  }
}

// f(i) for this thread's share of [0, n) in the team of the enclosing parallel_region, in
// contiguous chunks as `omp for schedule(static)`, then a barrier (as its end).
template <class F>
inline void for_static(int64_t n, F&& f) {
  const Team t = tl_team;
  const int64_t q = n / t.size, r = n % t.size;
  const int64_t b = t.tid * q + (t.tid < r ? t.tid : r), e = b + q + (t.tid < r ? 1 : 0);
  for (int64_t i = b; i < e; ++i) f(i);
  if (t.size > 1) {
#pragma omp barrier
  }
}

// f(i) for every i in [0, n), each task taken by whichever thread of the team is free next,
// then a barrier; for tasks whose results do not depend on the thread that runs them (each
// writes its own outputs or partial sums). On this 2-vCPU VM one thread often stalls for a
// while (the host runs something else on its vCPU); a static split then waits for it with
// half the work undone, a dynamic one lets the other thread take the rest. 2 threads,
// alternating call by call in one process, median of 10-200 calls: Winograd forward of
// ResNet's 56x56x64 3x3 at batch 16 1.10x, at batch 1 1.14x; its backward 1.03x; the
// direct kernel on res4 3x3 (14x14x256) at batch 16 1.11x, at batch 1 1.10x, VGG conv3_1
// 1.20x, the 1x1 GEMM on res3 1.03-1.05x; Inception 5x5 at batch 1 (one or two tasks a
// thread) the same. Every result the same bits.
template <class F>
inline void for_dynamic(int64_t n, F&& f) {
  if (tl_team.size <= 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace fc
