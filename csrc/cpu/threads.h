// One thread-count setting for every OpenMP region in the library.
#pragma once

namespace fc {

int num_threads();            // the count every parallel region uses
void set_num_threads(int n);  // n >= 1
int max_threads();            // what OpenMP would use by default

// Threads for a parallel region doing `work` multiply-adds: tiny regions (LeNet-sized layers)
// run on the calling thread, where a fork/join costs more than it saves. Results never
// depend on it (kernels split work into thread-count independent tasks).
inline int threads_for_work(double work) { return work < 1e6 ? 1 : num_threads(); }

}  // namespace fc
