#include "optim.h"

#include "common.h"

namespace fc {

void adam_update(int64_t n, float* w, const float* g, float* m, float* v,
                 const AdamScalars& s) {
  FC_CHECK(n >= 0 && w && g && m && v, "adam_update: bad arguments");
  FC_DISPATCH(adam_step, n, w, g, m, v, s);
}

}  // namespace fc
