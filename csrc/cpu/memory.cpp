#include "memory.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fc {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kPoolMin = size_t(1) << 20;      // smaller blocks: plain malloc is fine
constexpr size_t kPoolLimit = size_t(2) << 30;    // cache at most 2 GiB
constexpr size_t kHuge = size_t(2) << 20;         // transparent huge page size
constexpr size_t kSlackDiv = 16;  // footprint may exceed the live peak by 1/16 before evicting
// A request may take a cached block up to 1/kReuseDiv larger than its class rather than map
// a fresh one (see evict_for).
constexpr size_t kReuseDiv = 4;

// Round up to 1/8 steps of a power of two: at most 12.5 % waste, few distinct sizes (for
// n >= 1 MiB every class is a multiple of 128 KiB, so of the page size).
size_t size_class(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  size_t step = p >= 64 ? p / 8 : 8;
  return (n + step - 1) / step * step;
}

void* aligned(size_t bytes) {
  void* p = std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
  if (!p) throw std::bad_alloc();
  return p;
}

// Pooled blocks are mapped directly, so an evicted block really leaves the process (a glibc
// heap chunk may not), and blocks of 2 MiB and more ask for huge pages (512x fewer faults).
// Big blocks start on a 2 MiB boundary (over-map, trim the ends): huge pages only back
// aligned 2 MiB ranges, and an unaligned block would fault most of itself in 4 KiB pages.
void* map_block(size_t bytes) {
  const size_t extra = bytes >= kHuge ? kHuge : 0;
  void* raw = mmap(nullptr, bytes + extra, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  if (!extra) return raw;
  const uintptr_t a = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = (a + kHuge - 1) & ~uintptr_t(kHuge - 1);
  if (start > a) munmap(raw, start - a);
  if (start - a < extra) munmap(reinterpret_cast<void*>(start + bytes), extra - (start - a));
  void* p = reinterpret_cast<void*>(start);
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

void unmap_block(void* p, size_t bytes) noexcept { munmap(p, bytes); }

struct Pool {
  std::mutex mu;
  std::multimap<size_t, std::pair<uint64_t, void*>> by_class;  // size class -> (age, block)
  std::map<uint64_t, std::pair<size_t, void*>> by_age;         // age -> (size class, block)
  std::unordered_map<void*, size_t> live;                      // blocks in use -> size class
  size_t cached = 0, live_bytes = 0;
  size_t high = 0;  // the most live bytes ever: the footprint the cache may fill up to
  size_t peak = 0;  // the same for pool_peak_bytes, resettable
  uint64_t clock = 0;

  void note_live() {
    if (live_bytes > high) high = live_bytes;
    if (live_bytes > peak) peak = live_bytes;
  }

  void take(std::multimap<size_t, std::pair<uint64_t, void*>>::iterator it) {
    by_age.erase(it->second.first);
    cached -= it->first;
    by_class.erase(it);
  }

  // Cached blocks out, the most recently freed first, until `need` more live bytes fit in the
  // footprint the peak justifies; the caller unmaps them outside the lock. A training step
  // frees and asks again for the same blocks in a cycle longer than the cache holds, the
  // worst case for oldest-first (ResNet-50 at batch 16:
  // 697 MB of fresh blocks a step oldest-first, ~540 MB newest-first, ~510 MB with the
  // reuse of slightly larger blocks in pool_alloc; peak resident set no higher).
  void evict_for(size_t need, std::vector<std::pair<void*, size_t>>& out) {
    const size_t target = high + high / kSlackDiv;
    while (!by_age.empty() && live_bytes + cached + need > target) {
      auto [age, blk] = *by_age.rbegin();
      auto range = by_class.equal_range(blk.first);
      for (auto it = range.first; it != range.second; ++it)
        if (it->second.first == age) {
          take(it);
          break;
        }
      out.emplace_back(blk.second, blk.first);
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: arrays may be freed during interpreter exit
  return *p;
}

}  // namespace

void* pool_alloc(size_t bytes) {
  if (bytes < kPoolMin) return aligned(bytes ? bytes : 1);
  const size_t cls = size_class(bytes);
  Pool& P = pool();
  std::vector<std::pair<void*, size_t>> evicted;
  {
    std::lock_guard<std::mutex> lock(P.mu);
    // The smallest cached block of this class or up to a quarter larger.
    auto it = P.by_class.lower_bound(cls);
    if (it != P.by_class.end() && it->first <= cls + cls / kReuseDiv) {
      const size_t have = it->first;
      void* p = it->second.second;
      P.take(it);
      P.live.emplace(p, have);
      P.live_bytes += have;
      P.note_live();
      return p;
    }
    if (P.live_bytes + cls > P.high) P.high = P.live_bytes + cls;
    P.evict_for(cls, evicted);
  }
  for (auto& [q, n] : evicted) unmap_block(q, n);
  void* p = map_block(cls);
  if (!p) {  // out of address space or memory: drop the whole cache and try once more
    pool_release();
    p = map_block(cls);
    if (!p) throw std::bad_alloc();
  }
  std::lock_guard<std::mutex> lock(P.mu);
  P.live.emplace(p, cls);
  P.live_bytes += cls;
  P.note_live();
  return p;
}

void pool_free(void* p) noexcept {
  if (!p) return;
  Pool& P = pool();
  std::unique_lock<std::mutex> lock(P.mu);
  auto it = P.live.find(p);
  if (it == P.live.end()) {  // a small block: it never entered the pool
    lock.unlock();
    std::free(p);
    return;
  }
  const size_t cls = it->second;
  P.live.erase(it);
  P.live_bytes -= cls;
  if (P.cached + cls > kPoolLimit) {
    lock.unlock();
    unmap_block(p, cls);
    return;
  }
  try {
    const uint64_t age = P.clock++;
    P.by_age.emplace(age, std::make_pair(cls, p));
    P.by_class.emplace(cls, std::make_pair(age, p));
    P.cached += cls;
  } catch (...) {  // no memory for the bookkeeping: just give the block back
    P.by_age.erase(P.clock - 1);
    lock.unlock();
    unmap_block(p, cls);
  }
}

size_t pool_cached_bytes() {
  std::lock_guard<std::mutex> lock(pool().mu);
  return pool().cached;
}

size_t pool_live_bytes() {
  std::lock_guard<std::mutex> lock(pool().mu);
  return pool().live_bytes;
}

size_t pool_peak_bytes() {
  std::lock_guard<std::mutex> lock(pool().mu);
  return pool().peak;
}

void pool_reset_peak() {
  std::lock_guard<std::mutex> lock(pool().mu);
  pool().peak = pool().live_bytes;
}

void pool_release() {
  Pool& P = pool();
  std::vector<std::pair<void*, size_t>> blocks;
  {
    std::lock_guard<std::mutex> lock(P.mu);
    for (auto& kv : P.by_class) blocks.emplace_back(kv.second.second, kv.first);
    P.by_class.clear();
    P.by_age.clear();
    P.cached = 0;
  }
  for (auto& [q, n] : blocks) unmap_block(q, n);
}

namespace {
std::atomic<size_t> g_workspace_bytes{0};  // every thread's workspace buffers together

// A thread's buffers, given back (and uncounted) when the thread exits.
struct WorkspaceBufs {
  struct Buf {
    float* p = nullptr;
    size_t n = 0;
  };
  std::vector<Buf> bufs;
  ~WorkspaceBufs() {
    for (Buf& b : bufs) {
      std::free(b.p);
      g_workspace_bytes.fetch_sub(b.n * sizeof(float), std::memory_order_relaxed);
    }
  }
};
}  // namespace

size_t workspace_bytes() { return g_workspace_bytes.load(std::memory_order_relaxed); }

float* workspace(int slot, size_t n_floats) {
  thread_local WorkspaceBufs ws;
  auto& bufs = ws.bufs;
  if (slot < 0 || slot > 64) throw std::invalid_argument("workspace: bad slot");
  if (bufs.size() <= size_t(slot)) bufs.resize(slot + 1);
  WorkspaceBufs::Buf& b = bufs[slot];
  if (b.n < n_floats) {
    std::free(b.p);
    g_workspace_bytes.fetch_sub(b.n * sizeof(float), std::memory_order_relaxed);
    b.p = nullptr;  // if the allocation below throws, the slot is empty, not dangling
    b.n = 0;
    b.p = static_cast<float*>(aligned(n_floats * sizeof(float)));
    b.n = n_floats;
    g_workspace_bytes.fetch_add(n_floats * sizeof(float), std::memory_order_relaxed);
  }
  return b.p;
}

}  // namespace fc
