#include "memory.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace fc {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kPoolMin = size_t(1) << 20;      // smaller blocks: plain malloc is fine
constexpr size_t kPoolLimit = size_t(2) << 30;    // cache at most 2 GiB

// Round up to 1/8 steps of a power of two: at most 12.5 % waste, few distinct sizes.
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

struct Pool {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;        // size class -> block
  std::unordered_map<void*, size_t> live;          // pooled blocks in use -> size class
  size_t cached = 0;
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
  {
    std::lock_guard<std::mutex> lock(P.mu);
    auto it = P.free_blocks.find(cls);
    if (it != P.free_blocks.end()) {
      void* p = it->second;
      P.free_blocks.erase(it);
      P.cached -= cls;
      P.live.emplace(p, cls);
      return p;
    }
  }
  void* p = aligned(cls);
  std::lock_guard<std::mutex> lock(P.mu);
  P.live.emplace(p, cls);
  return p;
}

void pool_free(void* p) noexcept {
  if (!p) return;
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  auto it = P.live.find(p);
  if (it == P.live.end()) {  // a small block: it never entered the pool
    std::free(p);
    return;
  }
  const size_t cls = it->second;
  P.live.erase(it);
  if (P.cached + cls > kPoolLimit) {
    std::free(p);
    return;
  }
  P.free_blocks.emplace(cls, p);
  P.cached += cls;
}

size_t pool_cached_bytes() {
  std::lock_guard<std::mutex> lock(pool().mu);
  return pool().cached;
}

void pool_release() {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  for (auto& kv : P.free_blocks) std::free(kv.second);
  P.free_blocks.clear();
  P.cached = 0;
}

float* workspace(int slot, size_t n_floats) {
  struct Buf {
    float* p = nullptr;
    size_t n = 0;
  };
  thread_local std::vector<Buf> bufs;
  if (slot < 0 || slot > 64) throw std::invalid_argument("workspace: bad slot");
  if (bufs.size() <= size_t(slot)) bufs.resize(slot + 1);
  Buf& b = bufs[slot];
  if (b.n < n_floats) {
    std::free(b.p);
    b.p = nullptr;
    b.n = 0;
    b.p = static_cast<float*>(aligned(n_floats * sizeof(float)));
    b.n = n_floats;
  }
  return b.p;
}

}  // namespace fc
