// Machine probes for the benchmarks: the FP32 FMA peak measured on this CPU, now.
#pragma once
#include <cstdint>

#include "isa.h"

namespace fc {

// Runs `iters` rounds of independent vector FMA chains on `threads` OpenMP threads; adds the
// FLOPs executed (2 per lane per FMA, all threads) to *flops and a checksum to *sink (so the
// work cannot be optimised away).
FC_DECLARE_ISA_FN(void fma_probe_run(int threads, int64_t iters, double* flops, float* sink))

// Best FP32 FMA throughput in GFLOP/s of the active ISA on `threads` threads, measured over
// about `seconds` of wall time (best of several timed runs).
double fma_peak_gflops(int threads, double seconds);

// The same timed runs summarised two ways: the best run (the peak) and all of them together
// (what a kernel running as long as the whole window could have had).
struct FmaRates {
  double best, sustained;  // GFLOP/s
};
FmaRates fma_rates(int threads, double seconds);

}  // namespace fc
