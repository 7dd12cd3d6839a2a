#include "optim.h"

#include "common.h"

namespace fc {

void adam_update(int64_t n, float* w, const float* g, float* m, float* v,
                 const AdamScalars& s) {
  FC_CHECK(n >= 0 && w && g && m && v, "adam_update: bad arguments");
  FC_DISPATCH(adam_step, n, w, g, m, v, s);
}

void adam_update_multi(int64_t count, const int64_t* n, float* const* w, const float* const* g,
                       float* const* m, float* const* v, const AdamScalars* s) {
  FC_CHECK(count >= 0 && (count == 0 || (n && w && g && m && v && s)),
           "adam_update_multi: bad arguments");
  for (int64_t i = 0; i < count; ++i) adam_update(n[i], w[i], g[i], m[i], v[i], s[i]);
}

}  // namespace fc
