// Convolution forward by Winograd F(4x4, 3x3) ("winograd" variant; 3x3, stride 1, dilation
// 1, groups 1). Each 4x4 output tile is computed from a 6x6 input patch with 36 multiplies
// per (c, k) instead of 144: transform the weights (U = G g G^T, per call) and each input
// patch (V = B^T d B), multiply element-wise and sum over channels -- for each of the 36
// positions a (tiles x C) times (C x K) GEMM, run by the same register-blocked microkernel
// as the direct convolution -- then transform back (Y = A^T M A) with the bias and ReLU.
// The transforms run on vectors of channels (NHWC keeps them contiguous).
//
// Working memory per thread is one block of tiles (36 x tiles x C inputs, 36 x tiles x K
// products), never the whole layer. Each output element is produced by one task with a fixed
// arithmetic order, so the result does not depend on the thread count.
//
// Accuracy: the transforms' constants (up to 8 in A, 5 in B, 1/24 in G) amplify float32
// rounding; the error is a few times 1e-4 relative to max|y| (see the tests), against ~1e-6
// for the direct kernels. FASTCONV_WINOGRAD=0 or algo='direct' turns it off.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "cpu/conv2d.h"
#include "cpu/memory.h"
#include "cpu/threads.h"

namespace fc {
namespace FC_ISA_NS {
#include "conv2d_fwd_ukernel.h"
#include "winograd_f43.h"
namespace {

constexpr int NVW = 2, KB = NVW * V;   // output channels per GEMM block

inline vf load(const float* p, vf) { return loadu(p); }
inline float load(const float* p, float) { return *p; }
inline void store(float* p, vf v) { storeu(p, v); }
inline void store(float* p, float v) { *p = v; }

// u = G g: a column of 3 filter taps to 6 transformed values.
template <class T>
inline void g_1d(T g0, T g1, T g2, T* u) {
  u[0] = g0 * 0.25f;
  u[1] = (g0 + g1 + g2) * (-1.0f / 6.0f);
  u[2] = (g0 - g1 + g2) * (-1.0f / 6.0f);
  u[3] = g0 * (1.0f / 24.0f) + g1 * (1.0f / 12.0f) + g2 * (1.0f / 6.0f);
  u[4] = g0 * (1.0f / 24.0f) - g1 * (1.0f / 12.0f) + g2 * (1.0f / 6.0f);
  u[5] = g2;
}

using winograd::bt_1d;

// o = A^T m: 6 products to 4 outputs.
template <class T>
inline void at_1d(const T* m, T* o) {
  const T a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
  o[0] = m[0] + a + c;
  o[1] = b + 2.0f * d;
  o[2] = a + 4.0f * c;
  o[3] = b + 8.0f * d + m[5];
}

// U[36][kb][c][KB] = G g G^T for every (c, k), zero padded past K.
void transform_weights(const ConvParams& p, const float* w, float* U, int64_t nkb) {
  const int64_t C = p.C, K = p.K;
  // K blocks outer, channels inner: each of the 36 output streams is written sequentially.
#pragma omp parallel for num_threads(threads_for_work(double(p.N) * p.P * p.Q * p.K * p.R * p.S * p.C)) schedule(static) collapse(2)
  for (int64_t kb = 0; kb < nkb; ++kb)
    for (int64_t c = 0; c < C; ++c)
      for (int kk = 0; kk < KB; kk += V) {
        const int64_t k0 = kb * KB + kk;
        vf g[3][3];
        for (int r = 0; r < 3; ++r)
          for (int s = 0; s < 3; ++s) {
            const float* src = w + ((r * 3 + s) * C + c) * K + k0;
            if (k0 + V <= K) {
              g[r][s] = loadu(src);
            } else {
              float tmp[V] = {};
              for (int64_t i = 0; i < K - k0; ++i) tmp[i] = src[i];
              g[r][s] = loadu(tmp);
            }
          }
        vf t[6][3], u[6];
        for (int s = 0; s < 3; ++s) {
          vf col[6];
          g_1d(g[0][s], g[1][s], g[2][s], col);
          for (int i = 0; i < 6; ++i) t[i][s] = col[i];
        }
        for (int i = 0; i < 6; ++i) {
          g_1d(t[i][0], t[i][1], t[i][2], u);
          for (int j = 0; j < 6; ++j) storeu(U + (((i * 6 + j) * nkb + kb) * C + c) * KB + kk, u[j]);
        }
      }
}

// Vb[36][TB][C] for tile j at input (n, ih0, iw0): B^T d B on channels [c, c + width).
template <class T>
inline void input_tile(const ConvParams& p, const float* x, int64_t n, int64_t ih0, int64_t iw0,
                       int64_t c, float* Vb, int j, int64_t TB) {
  T d[6][6], t[6][6];
  for (int a = 0; a < 6; ++a)
    for (int b = 0; b < 6; ++b) {
      const int64_t ih = ih0 + a, iw = iw0 + b;
      d[a][b] = (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W)
                    ? load(x + ((n * p.H + ih) * p.W + iw) * p.C + c, T{})
                    : T{};
    }
  for (int b = 0; b < 6; ++b) {
    T col[6], r[6];
    for (int a = 0; a < 6; ++a) col[a] = d[a][b];
    bt_1d(col, r);
    for (int a = 0; a < 6; ++a) t[a][b] = r[a];
  }
  for (int a = 0; a < 6; ++a) {
    T r[6];
    bt_1d(t[a], r);
    for (int b = 0; b < 6; ++b) store(Vb + ((a * 6 + b) * TB + j) * p.C + c, r[b]);
  }
}

// y tile = A^T m A + bias (+ReLU) on channels [k, k + V), the valid pixels only.
inline void output_tile(const ConvParams& p, const float* Mb, int64_t TB, int64_t ks, int j,
                        int64_t kl,
                        const float* bias, int64_t n, int64_t oh0, int64_t ow0, int64_t k,
                        float* y) {
  vf m[6][6], t[4][6];
  for (int a = 0; a < 6; ++a)
    for (int b = 0; b < 6; ++b) m[a][b] = loadu(Mb + ((a * 6 + b) * TB + j) * ks + kl);
  for (int b = 0; b < 6; ++b) {
    vf col[6], o[4];
    for (int a = 0; a < 6; ++a) col[a] = m[a][b];
    at_1d(col, o);
    for (int a = 0; a < 4; ++a) t[a][b] = o[a];
  }
  const vf bv = loadu(bias + k);
  const int64_t kn = std::min<int64_t>(V, p.K - k);
  for (int a = 0; a < 4; ++a) {
    if (oh0 + a >= p.P) break;
    vf o[4];
    at_1d(t[a], o);
    for (int b = 0; b < 4 && ow0 + b < p.Q; ++b) {
      vf v = o[b] + bv;
      if (p.relu) v = v > vf{} ? v : vf{};
      float* dst = y + ((n * p.P + oh0 + a) * p.Q + ow0 + b) * p.K + k;
      if (kn == V) {
        storeu(dst, v);
      } else {
        float tmp[V];
        storeu(tmp, v);
        std::memcpy(dst, tmp, sizeof(float) * kn);
      }
    }
  }
}

}  // namespace

void conv2d_fwd_winograd(const ConvParams& p, const float* x, const float* w, const float* b,
                         float* y) {
  const int64_t C = p.C, K = p.K, nkb = (K + KB - 1) / KB;
  float* U = workspace(0, size_t(36 * nkb * C * KB));
  float* bp = workspace(1, size_t(nkb * KB));
  for (int64_t k = 0; k < nkb * KB; ++k) bp[k] = (b && k < K) ? b[k] : 0.0f;
  transform_weights(p, w, U, nkb);

  const int64_t TH = (p.P + 3) / 4, TW = (p.Q + 3) / 4, ntiles = p.N * TH * TW;
  // Tiles per block: the GEMMs read all of U (36 C K floats) once per block, so blocks grow
  // with C K to keep that traffic small next to the block's FLOPs (36 tiles C K).
  const int64_t TB = WB_2 * std::min<int64_t>(8, std::max<int64_t>(2, C * K / 8192));
  const int64_t nblocks = (ntiles + TB - 1) / TB;
  // Split the K blocks too when there are few tile blocks (batch 1, small images).
  const int64_t nkc = std::min<int64_t>(nkb, (16 + nblocks - 1) / nblocks);
  const int64_t kper = (nkb + nkc - 1) / nkc;
  const int64_t cfull = C / V * V;
  // Channels per GEMM pass (partial sums accumulate in Mb): one pass unless very wide.
  const int64_t Cb = C > 1024 ? 512 : C, ncb = (C + Cb - 1) / Cb;
  alignas(64) static const float zeros[KB] = {};

#pragma omp parallel for num_threads(threads_for_work(double(p.N) * p.P * p.Q * p.K * p.R * p.S * p.C)) schedule(static)
  for (int64_t task = 0; task < nblocks * nkc; ++task) {
    const int64_t blk = task / nkc, kc = task % nkc;
    const int64_t kb0 = kc * kper, kb1 = std::min(nkb, kb0 + kper), ks = (kb1 - kb0) * KB;
    if (kb0 >= kb1) continue;
    const int64_t t0 = blk * TB, tb = std::min<int64_t>(TB, ntiles - t0);
    float* Vb = workspace(3, size_t(36 * TB * C));
    float* Mb = workspace(4, size_t(36 * TB * ks));
    for (int j = 0; j < tb; ++j) {
      const int64_t t = t0 + j, n = t / (TH * TW), th = (t / TW) % TH, tw = t % TW;
      const int64_t ih0 = th * 4 - p.pad_t, iw0 = tw * 4 - p.pad_l;
      for (int64_t c = 0; c < cfull; c += V) input_tile<vf>(p, x, n, ih0, iw0, c, Vb, j, TB);
      for (int64_t c = cfull; c < C; ++c) input_tile<float>(p, x, n, ih0, iw0, c, Vb, j, TB);
    }
    Tile tl;
    tl.xs = C;
    tl.rs = 0;
    tl.ls = 0;
    tl.nr = 1;
    tl.nsg = 1;
    tl.wr = 0;
    tl.wsg = 0;
    tl.bias = zeros;
    tl.ys = ks;
    tl.kvalid = KB;
    tl.relu = false;
    for (int e = 0; e < 36; ++e)
      for (int64_t cb = 0; cb < ncb; ++cb) {
        const int64_t c0 = cb * Cb;
        tl.L = int(std::min(Cb, C - c0));
        tl.accum = cb > 0;
        for (int64_t kb = kb0; kb < kb1; ++kb) {
          tl.w = U + ((e * nkb + kb) * C + c0) * KB;
          for (int64_t j0 = 0; j0 < tb; j0 += WB_2) {
            const int64_t wb = std::min<int64_t>(WB_2, tb - j0);
            tl.x = Vb + (e * TB + j0) * C + c0;
            tl.y = Mb + (e * TB + j0) * ks + (kb - kb0) * KB;
            pick<NVW>(int(wb))(tl);
          }
        }
      }
    for (int j = 0; j < tb; ++j) {
      const int64_t t = t0 + j, n = t / (TH * TW), th = (t / TW) % TH, tw = t % TW;
      for (int64_t k = kb0 * KB; k < std::min(K, kb1 * KB); k += V)
        output_tile(p, Mb, TB, ks, j, k - kb0 * KB, bp, n, th * 4, tw * 4, k, y);
    }
  }
}

}  // namespace FC_ISA_NS
}  // namespace fc
