#include "probe.h"

#include <algorithm>
#include <chrono>

#include "common.h"

namespace fc {

FmaRates fma_rates(int threads, double seconds) {
  FC_CHECK(threads >= 1 && threads <= 4096, "threads must be in [1, 4096]");
  FC_CHECK(seconds > 0.0 && seconds <= 60.0, "seconds must be in (0, 60]");
  using clock = std::chrono::steady_clock;
  float sink = 0.0f;
  auto run = [&](int64_t iters) {
    double flops = 0.0;
    const auto t0 = clock::now();
    FC_DISPATCH(fma_probe_run, threads, iters, &flops, &sink);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    return std::make_pair(flops, dt);
  };
  // Calibrate: grow the run until it lasts about a fifth of the budget (also warms the
  // threads up and lets the clock ramp), then time runs until the budget is spent.
  const double slice = seconds / 5.0;
  int64_t iters = 1 << 12;
  auto r = run(iters);
  while (r.second < slice / 2 && iters < (int64_t(1) << 40)) {
    const double grow = r.second > 0 ? std::min(16.0, slice / r.second) : 16.0;
    iters = std::max<int64_t>(iters + 1, int64_t(double(iters) * grow));
    r = run(iters);
  }
  double best = r.first / r.second, flops = 0.0, dt = 0.0;
  const auto end = clock::now() + std::chrono::duration<double>(seconds);
  for (int k = 0; k < 16 && (k < 4 || clock::now() < end); ++k) {
    r = run(iters);
    best = std::max(best, r.first / r.second);
    flops += r.first;
    dt += r.second;
  }
  return {best * 1e-9, flops / dt * 1e-9};
}

double fma_peak_gflops(int threads, double seconds) { return fma_rates(threads, seconds).best; }

}  // namespace fc
