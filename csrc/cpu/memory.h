// Reusable memory. In this VM a fresh multi-MB block page-faults on every call (glibc mmaps
// blocks over 32 MiB and unmaps them on free), which makes kernels look 2-5x slower than they
// are; so big outputs come from a caching pool and scratch comes from a growing workspace.
#pragma once
#include <cstddef>

namespace fc {

// 64-byte aligned block from the caching pool; never null (throws std::bad_alloc).
// The pool's footprint (live + cached) stays near the most live bytes ever needed at once:
// a request may take a cached block up to a quarter larger than its size class, and on a
// miss the pool unmaps cached blocks, the most recently freed first, rather than grow (a
// cache that kept every size class ever seen would hold the sum of per-size peaks, ~20 %
// more in training).
void* pool_alloc(size_t bytes);
void pool_free(void* p) noexcept;
size_t pool_cached_bytes();   // bytes held for reuse right now
size_t pool_live_bytes();     // bytes of pooled blocks in use right now
size_t pool_peak_bytes();     // the most live bytes seen at once (since start or reset)
void pool_release();          // give every cached block back to the system
void pool_reset_peak();       // restart pool_peak_bytes from the live bytes now

// Scratch memory for the calling thread, 64-byte aligned, at least n floats. Slot k is a
// separate buffer, so one kernel can hold several at once. Valid until the next call with
// the same slot from the same thread; inside OpenMP regions index it by omp thread yourself.
float* workspace(int slot, size_t n_floats);
// Bytes of every thread's workspace buffers together right now (they grow to the largest
// request of each slot and stay until the thread exits): the kernels' scratch, which is
// bounded by tiles and weights, never by a layer's im2col matrix.
size_t workspace_bytes();

}  // namespace fc
