// Splitting a range into blocks whose boundaries depend only on the sizes, never on the
// thread count (so a reduction over the blocks has a fixed order).
#pragma once
#include <cstdint>

namespace fc {

// Splits n items into the fewest blocks of at most bmax, sizes as equal as possible;
// block b covers [start(b), start(b + 1)).
struct Blocks {
  int64_t n, count;
  Blocks(int64_t n_, int64_t bmax) : n(n_), count((n_ + bmax - 1) / bmax) {}
  int64_t start(int64_t b) const { return b * n / count; }
  int64_t size(int64_t b) const { return start(b + 1) - start(b); }
};

}  // namespace fc
