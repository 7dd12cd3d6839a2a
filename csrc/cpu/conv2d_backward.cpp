#include "conv2d_backward.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "blocks.h"
#include "common.h"
#include "memory.h"
#include "threads.h"

namespace fc {

namespace {

int vector_lanes() {
  switch (active_isa()) {
    case Isa::avx512: return 16;
    case Isa::avx2: return 8;
    default: return 4;
  }
}

enum class DataAlgo { cvec, kdot, col2im, simple };
enum class WeightAlgo { tiled, im2col, simple };

// dw_im2col packs a block's im2col rows, R*S*Cg floats per pixel: only short reductions.
constexpr int64_t kIm2colMaxRows = 1024;

// "auto": depthwise-like groups take the plain loops (vectorised over channels); few input
// channels per group and 1x1 layers the col2im GEMM; the rest the C-vector tiles.
void pick(const ConvParams& p, const std::string& algo, DataAlgo& da, WeightAlgo& wa) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), vl = vector_lanes();
  if (algo == "auto") {
    const bool tiny_groups = p.groups > 1 && Cg * 4 <= vl && Kg * 4 <= vl;
    // col2im: few channels (a C vector would be mostly empty; measured 2-3x kdot on the
    // 3-channel strided first layers and LeNet conv2) and 1x1 layers whose weights stay in
    // L2 (a plain GEMM, 1.3x cvec on ResNet res3; it re-reads all weights per dy row, so
    // 2048x512 1x1 layers at 7x7 ran at 0.4x cvec).
    const bool col = 2 * Cg <= vl || (p.R == 1 && p.S == 1 && Cg * Kg <= 128 * 1024);
    da = tiny_groups ? DataAlgo::simple : col ? DataAlgo::col2im : DataAlgo::cvec;
    // dw: the tiles, but for strided layers with up to 4 input channels (first layers) the
    // one-GEMM im2col: with whole-vector packing, aligned dy and an equal share of rows per
    // thread it ran at 1.05-1.15x the tiles on ResNet-50 conv1 and 1.1-1.6x on AlexNet
    // conv1 (1 thread, batch 1 and 16); reading a ring of padded input rows in place instead
    // of packing, 1.2-1.3x more on ResNet-50 conv1 and 1.15x on AlexNet conv1 (batch 1).
    const bool first = p.groups == 1 && Cg <= 4 && (p.stride_h > 1 || p.stride_w > 1) &&
                       p.R * p.S * Cg <= kIm2colMaxRows;
    // Also for few channels (half a vector at most) into one K vector at any stride: LeNet-5
    // conv2 (6 -> 16, 5x5 at 14x14) took 0.82-0.90x the tiles' time at batch 1-32, 8 -> 16
    // 3x3 at 28x28 0.87-0.94x (1 thread, AVX-512); 6 -> 64 tied, so wider K keeps the tiles.
    const bool narrow = p.groups == 1 && 2 * Cg <= vl && Kg <= vl &&
                        p.R * p.S * Cg <= kIm2colMaxRows;
    wa = tiny_groups ? WeightAlgo::simple
         : (first || narrow) ? WeightAlgo::im2col : WeightAlgo::tiled;
  } else if (algo == "cvec") {
    da = DataAlgo::cvec, wa = WeightAlgo::tiled;
  } else if (algo == "col2im") {
    da = DataAlgo::col2im, wa = WeightAlgo::tiled;
  } else if (algo == "im2col") {
    da = DataAlgo::col2im;
    wa = p.R * p.S * Cg <= kIm2colMaxRows ? WeightAlgo::im2col : WeightAlgo::tiled;
  } else if (algo == "kdot") {
    da = DataAlgo::kdot, wa = WeightAlgo::tiled;
  } else if (algo == "simple") {
    da = DataAlgo::simple, wa = WeightAlgo::simple;
  } else {
    throw std::invalid_argument("algo: unknown conv2d_backward variant '" + algo + "'");
  }
}

// dx of a stride-1 undilated ungrouped layer is the forward convolution of dy with the filter
// rotated by 180 degrees, C and K swapped, padded by R-1-pad. When "auto" would run that
// forward as Winograd or as the 1x1 GEMM, those beat the dx tiles (2x on 56x56x64 3x3 layers),
// so dx runs there: same algorithm switch (FASTCONV_WINOGRAD=0), same error. Returns the
// forward algorithm to run, or nullptr.
const char* dx_as_forward(const ConvParams& p, ConvParams& t) {
  if (p.groups != 1 || p.stride_h != 1 || p.stride_w != 1 || p.dil_h != 1 || p.dil_w != 1 ||
      p.pad_t >= p.R || p.pad_b >= p.R || p.pad_l >= p.S || p.pad_r >= p.S)
    return nullptr;
  t = ConvParams{};
  t.N = p.N, t.H = p.P, t.W = p.Q, t.C = p.K, t.K = p.C, t.R = p.R, t.S = p.S;
  t.pad_t = p.R - 1 - p.pad_t, t.pad_b = p.R - 1 - p.pad_b;
  t.pad_l = p.S - 1 - p.pad_l, t.pad_r = p.S - 1 - p.pad_r;
  t.finalize();
  if (t.P != p.H || t.Q != p.W) return nullptr;
  // What the forward's "auto" runs (Winograd only above 14x14 outputs). At 14x14 and 7x7
  // the direct forward ran these dx 1.1-1.5x faster than Winograd and 1.2-2x faster than the
  // dx tiles, once a call has 392 pixels to share the weight repack (ResNet-50's 256- and
  // 512-channel 3x3 layers at batch 2-16, 1 thread); below that, and on narrow layers, the
  // dx tiles stay.
  const std::string name = conv2d_forward_choose(t).name;
  for (const char* fast : {"winograd", "winograd5", "gemm1x1"})
    if (name == fast) return fast;
  const bool direct_wins = name == "direct" && t.P * t.Q <= 14 * 14 &&
                           t.N * t.P * t.Q >= 392 && t.C >= 64 && t.K >= 64;
  return direct_wins ? "direct" : nullptr;
}

// 5x5 stride-1 dw by Winograd F(4x4, 5x5) (64 multiply-adds per 16 outputs and (c, k), not
// the direct sum's 400), whatever the forward runs: the error class of the Winograd forward
// (~1e-5 of max|dw|), under its switch (FASTCONV_WINOGRAD=0). 1
// thread, against the dw tiles and F(2x2, 5x5), in one process: Inception 5x5 16->32 at batch
// 1 (49 tiles) 0.36 ms tiles, 0.24 F25, 0.13 F45; GoogLeNet's 14x14 layers 1.5-1.9x the tiles
// from batch 1 (16 tiles), 2-4x at batch 16; 7x7 48->128 1.15x at batch 2 (8 tiles), tied or
// lost at batch 1 (4); LeNet's 14x14 6->16 (9 tiles an image) 1.1-1.25x from batch 2. Lost
// to the tiles and the C = 1 kernel on few channels (C K < 96: 1->6 2.2x slower, 4->16 0.85x).
// Wide layers need 16 tiles: their 64 x C x K sums (4 MB at 128->128) leave the L2 cache
// (7x7 128->128 at batch 2, 8 tiles: 0.88x; 14x14 at batch 1, 16 tiles: 1.3x; 256->256 at
// 16 tiles 0.75-1.35x in noisy runs, at 32 1.5-1.8x).
bool dw_winograd5(const ConvParams& p) {
  const int64_t tiles = p.N * ((p.P + 3) / 4) * ((p.Q + 3) / 4);
  return p.R == 5 && p.S == 5 && p.stride_h == 1 && p.stride_w == 1 && p.dil_h == 1 &&
         p.dil_w == 1 && p.groups == 1 && p.C >= 3 && p.C * p.K >= 96 &&
         tiles >= (p.C * p.K <= 8192 ? 8 : 16) && winograd_enabled();
}

// dx of a strided unpadded 1x1 layer is dy x w^T at the pixels the stride hits and zero
// elsewhere: the 1x1 GEMM forward (gemm1x1) of dy with the transposed weights. ResNet-50's
// projections at batch 16, 1 thread, against the dx tiles (cvec): 512->1024 at 28x28 66 ->
// 55 ms, 1024->2048 at 14x14 83 -> 59 ms. Where pick() takes col2im (weights of up to 128 K
// floats: 256->512 at 56x56) the two tied, so those stay.
bool strided_1x1_dx_as_gemm(const ConvParams& p) {
  return p.groups == 1 && p.unpadded_1x1() && (p.stride_h > 1 || p.stride_w > 1) &&
         p.C >= 64 && p.K >= 64 && p.C * p.K > 128 * 1024;
}

// dw of unpadded ungrouped 1x1 layers as one GEMM in L2-sized dw panels
// (conv2d_bwd_weight_1x1): the per-filter-row tiles reload a dw of 1-8 MB once per block of
// 64 pixels (ResNet-50's 14x14 and 7x7 1x1 layers: 1.05-1.15x); the same bits.
bool dw_as_1x1_gemm(const ConvParams& p) {
  return p.groups == 1 && p.unpadded_1x1();
}

// wt[r][s][k][c] = w[R-1-r][S-1-s][c][k], in 16 x 16 blocks (each a 1 KiB read and write);
// whole blocks by 4 x 4 SSE transposes (the scalar loop took 15 us of the Inception 5x5
// layer's 160 us dx at batch 1, these 6 us).
void rotate_swap(const ConvParams& p, const float* w, float* wt) {
  const int64_t RS = p.R * p.S, C = p.C, K = p.K, cb = (C + 15) / 16, kb = (K + 15) / 16;
  auto block = [&](int64_t task) {
    const int64_t rs = task / (cb * kb), c0 = task / kb % cb * 16, k0 = task % kb * 16;
    const float* src = w + (RS - 1 - rs) * C * K;
    float* dst = wt + rs * K * C;
    const int64_t k1 = std::min(K, k0 + 16), c1 = std::min(C, c0 + 16);
#if defined(__SSE__)
    if (k1 - k0 == 16 && c1 - c0 == 16) {
      for (int64_t c = c0; c < c1; c += 4)
        for (int64_t k = k0; k < k1; k += 4) {
          __m128 r0 = _mm_loadu_ps(src + c * K + k), r1 = _mm_loadu_ps(src + (c + 1) * K + k);
          __m128 r2 = _mm_loadu_ps(src + (c + 2) * K + k);
          __m128 r3 = _mm_loadu_ps(src + (c + 3) * K + k);
          _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
          _mm_storeu_ps(dst + k * C + c, r0);
          _mm_storeu_ps(dst + (k + 1) * C + c, r1);
          _mm_storeu_ps(dst + (k + 2) * C + c, r2);
          _mm_storeu_ps(dst + (k + 3) * C + c, r3);
        }
      return;
    }
#endif
    for (int64_t k = k0; k < k1; ++k)
      for (int64_t c = c0; c < c1; ++c) dst[k * C + c] = src[c * K + k];
  };
  // Small filters on the calling thread (parallel_region: no OpenMP region, whose futex
  // wake cost a third of this copy for the Inception 5x5 layer's 12.8 K floats).
  parallel_region(RS * C * K < (1 << 18) ? 1 : num_threads(),
                  [&] { for_static(RS * cb * kb, block); });
}

// dx and dw side by side, each on one thread, rather than one after the other on all
// threads, from 1e6 multiply-adds per direction (below, both run on one thread anyway) up to
// 2^28 (batch 1 of every ResNet/VGG/AlexNet layer, LeNet-5 and Inception 5x5 at batch 32),
// and at any size on 1-4 input channel layers (the first layers, whose dx writes 3 channels
// and whose dw reduces per-thread panels: both scale poorly). At 2 threads, alternating in
// one process (min of 4-6 rounds): Inception 5x5 at batch 1 336 -> 284 us, LeNet-5 conv2 at
// batch 16 325 -> 281 us, ResNet-50 conv1 at batch 1 6.9 -> 6.0 ms and at batch 16 80 -> 69
// ms, AlexNet conv1 at 16 220 -> 193 ms, res2 3x3 at batch 1 4.2 -> 2.2 ms; at batch 16 the
// 64-256 channel layers tied or lost (res3 1x1 88 -> 109 ms), so they stay one after the other.
// Each direction computes what it computes on one thread: the bits do not depend on the
// thread count.
bool dx_dw_side_by_side(const ConvParams& p) {
  const double work = double(p.N) * p.P * p.Q * p.K * p.R * p.S * p.Cg();
  return work >= 1e6 && (work <= double(1 << 28) || (p.groups == 1 && p.C <= 4));
}

// a() and b() on two threads; the kernels they call see num_threads() == 1 there (an
// active region), so they run serially. An exception inside an OpenMP region would
// terminate the process, so each is caught and the first rethrown after the region.
template <class A, class B>
void run_side_by_side(A&& a, B&& b) {
  std::exception_ptr err[2];
  bool ran[2] = {false, false};
  auto one = [&](int i) {
    ran[i] = true;
    try {
      if (i == 0) a();
      else b();
    } catch (...) {
      err[i] = std::current_exception();
    }
  };
#pragma omp parallel num_threads(2)
  {
    const int i = omp_get_thread_num();
    if (i < 2) one(i);
  }
  // A team of one (OMP_THREAD_LIMIT, a caller's own parallel region): the rest here.
  for (int i = 0; i < 2; ++i)
    if (!ran[i]) one(i);
  for (auto& e : err)
    if (e) std::rethrow_exception(e);
}

// strided_1x1_dx_as_gemm's dx (the swapped-weights gemm1x1 on w): the GEMM runs per chunk of
// whole images into a buffer of at most ~2M floats (8 MB: one chunk for ResNet-50's layers at
// batch 16; each chunk repacks the weights), and each dx row is then written whole
// (the chunk's pixels where the stride hits, zeros between and on the rows it skips), one
// row per task. The chunks depend on the sizes only, and a pixel's sum does not depend on
// its chunk, so dx is the same at any thread count.
void strided_1x1_dx(const ConvParams& p, const float* dy, const float* w, float* dx) {
  const int64_t img = p.P * p.Q * p.C, nb = std::clamp<int64_t>((1 << 21) / img, 1, p.N);
  const Blocks chunks(p.N, nb);
  float* tmp = workspace(54, size_t((p.N + chunks.count - 1) / chunks.count * img));
  for (int64_t ci = 0; ci < chunks.count; ++ci) {
    const int64_t n0 = chunks.start(ci), nn = chunks.size(ci);
    ConvParams t;
    t.N = nn, t.H = p.P, t.W = p.Q, t.C = p.K, t.K = p.C, t.R = 1, t.S = 1;
    t.finalize();
    FC_DISPATCH(conv2d_fwd_gemm1x1_swapped, t, dy + n0 * p.P * p.Q * p.K, w, tmp);
    const int64_t rows = nn * p.H;
#pragma omp parallel for num_threads(rows * p.W * p.C < (1 << 18) ? 1 : num_threads()) schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t n = row / p.H, ih = row % p.H;
      float* d = dx + ((n0 + n) * p.H + ih) * p.W * p.C;
      if (ih % p.stride_h || ih / p.stride_h >= p.P) {
        std::memset(d, 0, sizeof(float) * p.W * p.C);
        continue;
      }
      const float* src = tmp + (n * p.P + ih / p.stride_h) * p.Q * p.C;
      for (int64_t iw = 0; iw < p.W; ++iw, d += p.C) {
        if (iw % p.stride_w || iw / p.stride_w >= p.Q)
          std::memset(d, 0, sizeof(float) * p.C);
        else
          std::memcpy(d, src + iw / p.stride_w * p.C, sizeof(float) * p.C);
      }
    }
  }
}

// dx of a stride-2 3x3 layer padded by 1 on every side whose input is twice its output
// (ResNet v1.5's strided 3x3 layers) by parity phases: the dx pixels (2i + ph, 2j + pw) take
// filter row r = 1 (dy row i) when ph = 0, and r = 2 (row i) and r = 0 (row i + 1) when
// ph = 1; likewise the columns. So each phase is a stride-1 forward convolution of dy with a
// 1x1, 1x2, 2x1 or 2x2 filter of the transposed taps (padded by one after the end on a
// 2-tap axis), run by the forward's "auto" (the 1x1 GEMM, the direct kernel) into a buffer
// of whole images (at most ~2M floats per chunk, as strided_1x1_dx) and copied into its dx
// pixels. Every dx pixel
// belongs to one phase and is one forward sum in a fixed order: the same at any thread count.
// ResNet-50 at batch 16, 1 thread, alternating in one process against the dx tiles: 14x14x512
// -> 7x7 1.05-1.38x (4 runs); 28x28x256 -> 14x14 0.86-1.15x and 56x56x128 -> 28x28 0.93x
// (the 2x2 phase filters give short reductions), so outputs up to 7x7.
bool strided_3x3_dx_by_phases(const ConvParams& p) {
  return p.groups == 1 && p.R == 3 && p.S == 3 && p.stride_h == 2 && p.stride_w == 2 &&
         p.dil_h == 1 && p.dil_w == 1 && p.pad_t == 1 && p.pad_b == 1 && p.pad_l == 1 &&
         p.pad_r == 1 && p.H == 2 * p.P && p.W == 2 * p.Q && p.P * p.Q <= 7 * 7 && p.C >= 64 &&
         p.K >= 64;
}

// wt: rotate_swap's transposed taps (wt[2 - r][2 - s] = w[r][s]^T).
void strided_3x3_dx(const ConvParams& p, const float* dy, const float* wt, float* dx) {
  const int64_t KC = p.K * p.C, img = p.P * p.Q * p.C;
  const int64_t nb = std::clamp<int64_t>((1 << 21) / img, 1, p.N);
  const Blocks chunks(p.N, nb);
  float* tmp = workspace(56, size_t((p.N + chunks.count - 1) / chunks.count * img));
  float* wph = workspace(55, size_t(4 * KC));
  // Filter row of tap t (0 or 1) of a phase: ph = 0 has one tap (r = 1); ph = 1 two (r = 2
  // at offset 0, r = 0 at offset 1).
  auto tap = [](int ph, int t) { return ph == 0 ? 1 : t == 0 ? 2 : 0; };
  for (int ph = 0; ph < 2; ++ph)
    for (int pw = 0; pw < 2; ++pw) {
      const int nr = ph + 1, ns = pw + 1;
      for (int a = 0; a < nr; ++a)
        for (int b = 0; b < ns; ++b)
          std::memcpy(wph + (a * ns + b) * KC,
                      wt + ((2 - tap(ph, a)) * 3 + (2 - tap(pw, b))) * KC,
                      sizeof(float) * KC);
      for (int64_t ci = 0; ci < chunks.count; ++ci) {
        const int64_t n0 = chunks.start(ci), nn = chunks.size(ci);
        ConvParams t;
        t.N = nn, t.H = p.P, t.W = p.Q, t.C = p.K, t.K = p.C, t.R = nr, t.S = ns;
        t.pad_b = nr - 1, t.pad_r = ns - 1;
        t.finalize();
        conv2d_forward(t, dy + n0 * p.P * p.Q * p.K, wph, nullptr, tmp, "auto");
        const int64_t rows = nn * p.P;
#pragma omp parallel for num_threads(rows * p.Q * p.C < (1 << 18) ? 1 : num_threads()) schedule(static)
        for (int64_t row = 0; row < rows; ++row) {
          const int64_t n = row / p.P, i = row % p.P;
          const float* src = tmp + row * p.Q * p.C;
          float* d = dx + (((n0 + n) * p.H + 2 * i + ph) * p.W + pw) * p.C;
          for (int64_t j = 0; j < p.Q; ++j)
            std::memcpy(d + 2 * j * p.C, src + j * p.C, sizeof(float) * p.C);
        }
      }
    }
}

}  // namespace

std::vector<std::string> conv2d_backward_algos() {
  return {"auto", "cvec", "kdot", "col2im", "im2col", "simple"};
}

void conv2d_backward(const ConvParams& p, const float* dy, const float* x, const float* w,
                     float* dx, float* dw, float* db, const std::string& algo) {
  FC_CHECK(p.P >= 1 && p.Q >= 1, "conv2d_backward: ConvParams not finalized");
  FC_CHECK(dy, "conv2d_backward: null dy");
  FC_CHECK(!dx || w, "conv2d_backward: dx needs w");
  FC_CHECK(!dw || x, "conv2d_backward: dw needs x");
  DataAlgo da;
  WeightAlgo wa;
  pick(p, algo, da, wa);
  ConvParams t;
  const char* dx_fwd = dx && algo == "auto" ? dx_as_forward(p, t) : nullptr;
  auto run_dx = [&] {
    if (dx_fwd && std::string(dx_fwd) == "gemm1x1") {
      FC_DISPATCH(conv2d_fwd_gemm1x1_swapped, t, dy, w, dx);  // packs w^T itself
    } else if (dx_fwd) {
      float* wt = workspace(47, size_t(p.R * p.S * p.C * p.K));
      rotate_swap(p, w, wt);
      conv2d_forward(t, dy, wt, nullptr, dx, dx_fwd);
    } else if (dx && algo == "auto" && strided_3x3_dx_by_phases(p)) {
      float* wt = workspace(47, size_t(9 * p.C * p.K));
      rotate_swap(p, w, wt);
      strided_3x3_dx(p, dy, wt, dx);
    } else if (dx && algo == "auto" && strided_1x1_dx_as_gemm(p)) {
      strided_1x1_dx(p, dy, w, dx);
    } else if (dx) {
      if (da == DataAlgo::cvec) FC_DISPATCH(conv2d_bwd_data_cvec, p, dy, w, dx);
      else if (da == DataAlgo::col2im) FC_DISPATCH(conv2d_bwd_data_col2im, p, dy, w, dx);
      else if (da == DataAlgo::kdot) FC_DISPATCH(conv2d_bwd_data_kdot, p, dy, w, dx);
      else FC_DISPATCH(conv2d_bwd_data_simple, p, dy, w, dx);
    }
  };
  // 3x3 dw by Winograd F(4x4, 3x3) where the forward runs Winograd (same switch, same error
  // class) and the tiles are enough to pay for its 36 x C x K sums per task: from 64 tiles
  // (ResNet-50's 7x7 512-channel layer at batch 16, 14x14 at batch 4; 1 thread, alternating
  // in one process: 1.15-1.3x the tiles on 64-512 channels, 128 channels at 7x7 1.0-1.1x); at
  // 32 tiles 14x14x256 lost (batch 2: 0.85x). 5x5 dw: see dw_winograd5.
  const std::string fwd =
      conv2d_winograd_amortized(p) ? "winograd" : conv2d_forward_choose(p).name;
  const int64_t tiles = p.N * ((p.P + 3) / 4) * ((p.Q + 3) / 4);
  auto run_dw = [&] {
    if (dw && algo == "auto" && fwd == "winograd" && tiles >= 64) {
      FC_DISPATCH(conv2d_bwd_weight_winograd, p, dy, x, dw);
    } else if (dw && algo == "auto" && dw_winograd5(p)) {
      FC_DISPATCH(conv2d_bwd_weight_winograd, p, dy, x, dw);  // F(4x4, 5x5)
    } else if (dw && algo == "auto" && p.C == 1 && p.groups == 1 && p.stride_w == 1 &&
               p.dil_w == 1) {
      FC_DISPATCH(conv2d_bwd_weight_c1, p, dy, x, dw);
    } else if (dw && algo == "auto" && wa == WeightAlgo::tiled && dw_as_1x1_gemm(p)) {
      FC_DISPATCH(conv2d_bwd_weight_1x1, p, dy, x, dw);
    } else if (dw) {
      if (wa == WeightAlgo::tiled) FC_DISPATCH(conv2d_bwd_weight_tiled, p, dy, x, dw);
      else if (wa == WeightAlgo::im2col) FC_DISPATCH(conv2d_bwd_weight_im2col, p, dy, x, dw);
      else FC_DISPATCH(conv2d_bwd_weight_simple, p, dy, x, dw);
    }
    if (db) FC_DISPATCH(conv2d_bwd_bias, p, dy, db);
  };
  // run_dx's col2im branch (the same conditions, in its order).
  const bool col2im_dx =
      dx && !dx_fwd && da == DataAlgo::col2im &&
      !(algo == "auto" && (strided_1x1_dx_as_gemm(p) || strided_3x3_dx_by_phases(p)));
  if (dx && dw && num_threads() >= 2 && dx_dw_side_by_side(p) && col2im_dx) {
    // col2im's dx was the longer side on the first layers (ResNet-50 conv1 at batch 1: dx
    // ~1.6x dw, so 2 threads ran barely faster than 1): the dw thread then takes dx bands
    // too, from a counter shared with the dx thread. A band's sums do not depend on who
    // runs it.
    int64_t next = 0;
    run_side_by_side([&] { FC_DISPATCH(conv2d_bwd_data_col2im, p, dy, w, dx, &next); },
                     [&] {
                       run_dw();
                       FC_DISPATCH(conv2d_bwd_data_col2im, p, dy, w, dx, &next);
                     });
  } else if (dx && dw && num_threads() >= 2 && dx_dw_side_by_side(p)) {
    run_side_by_side(run_dx, run_dw);
  } else {
    run_dx();
    run_dw();
  }
}

}  // namespace fc
