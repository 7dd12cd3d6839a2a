// Winograd input transforms B^T d, shared by the forward (conv2d_fwd_winograd.cpp) and the
// filter gradient (conv2d_bwd_weight_winograd.cpp): both multiply by B^T d B. B^T depends
// only on the interpolation points: a 6-point transform for F(4x4, 3x3) and an 8-point one
// for F(4x4, 5x5). Included inside namespace
// fc::FC_ISA_NS, so each ISA build gets its own copy.
#pragma once

namespace winograd {

// r = B^T d: 6 input values to 6 transformed values (T: float or a vector of floats); the
// points 0, 1, -1, 2, -2 and infinity.
template <class T>
inline void bt_1d(const T* d, T* r) {
  r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  r[1] = (d[3] + d[4]) - 4.0f * (d[1] + d[2]);
  r[2] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
  r[3] = (d[4] - d[2]) + 2.0f * (d[3] - d[1]);
  r[4] = (d[4] - d[2]) - 2.0f * (d[3] - d[1]);
  r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

// r = B^T d: 8 input values to 8; the points 0, 1, -1, 2, -2, 1/2, -1/2 and infinity (in this
// order; the B^T of F(6x6, 3x3) in NNPACK). Its rows:
//   [1  0 -21/4   0    21/4   0   -1 0]
//   [0  1    1  -17/4 -17/4   1    1 0]
//   [0 -1    1   17/4 -17/4  -1    1 0]
//   [0 1/2  1/4  -5/2  -5/4   2    1 0]
//   [0 -1/2 1/4   5/2  -5/4  -2    1 0]
//   [0  2    4   -5/2  -5    1/2   1 0]
//   [0 -2    4    5/2  -5   -1/2   1 0]
//   [0 -1    0   21/4   0  -21/4   0 1]
template <class T>
inline void bt8_1d(const T* d, T* r) {
  r[0] = (d[0] - d[6]) + 5.25f * (d[4] - d[2]);
  r[7] = (d[7] - d[1]) + 5.25f * (d[3] - d[5]);
  const T t1 = (d[2] + d[6]) - 4.25f * d[4], t2 = (d[1] + d[5]) - 4.25f * d[3];
  r[1] = t1 + t2;
  r[2] = t1 - t2;
  const T t3 = (d[6] + 0.25f * d[2]) - 1.25f * d[4];
  const T t4 = (0.5f * d[1] - 2.5f * d[3]) + 2.0f * d[5];
  r[3] = t3 + t4;
  r[4] = t3 - t4;
  const T t5 = (d[6] + 4.0f * d[2]) - 5.0f * d[4];
  const T t6 = (2.0f * d[1] - 2.5f * d[3]) + 0.5f * d[5];
  r[5] = t5 + t6;
  r[6] = t5 - t6;
}

// B^T d for T-point tiles (T = 6 or 8).
template <int T, class X>
inline void bt(const X* d, X* r) {
  if constexpr (T == 8) bt8_1d(d, r);
  else bt_1d(d, r);
}

}  // namespace winograd
