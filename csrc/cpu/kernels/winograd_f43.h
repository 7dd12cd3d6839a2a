// Winograd F(4x4, 3x3) input transform, shared by the forward (conv2d_fwd_winograd.cpp) and
// the filter gradient (conv2d_bwd_weight_winograd.cpp): both multiply by B^T d B. Included
// inside namespace fc::FC_ISA_NS, so each ISA build gets its own copy.
#pragma once

namespace winograd {

// r = B^T d: 6 input values to 6 transformed values (T: float or a vector of floats).
template <class T>
inline void bt_1d(const T* d, T* r) {
  r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  r[1] = (d[3] + d[4]) - 4.0f * (d[1] + d[2]);
  r[2] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
  r[3] = (d[4] - d[2]) + 2.0f * (d[3] - d[1]);
  r[4] = (d[4] - d[2]) - 2.0f * (d[3] - d[1]);
  r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

}  // namespace winograd
