// skinny_gemm_f32 (see skinny_gemm_cpu.h).
//
// Measured on AlexNet's first classifier layer (4096 x 9216, 151 MB) with 2 threads: MKL's GEMM
// takes 11-13 ms at batch 4-16 (12-14 GB/s of weight), against 2-3 ms for one pass over the
// weight at batch 1. Here a block of 4 weight rows meets a
// block of 4 input rows in 16 vector accumulators, the weight rows come from DRAM once and are
// reused from L1/L2 for the remaining input blocks, and k is cut into tiles so that both the
// weight rows' tile and the inputs' tile stay in L2 whatever the layer's width.
#include "common/skinny_gemm_cpu.h"

#include <algorithm>
#include <vector>

#include "common/cpu_levels.h"
#include "common/vec_cpu.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")  // one FMA per multiply-add in the AVX clones (as in vector_cpu.cpp)
#endif

namespace cnnfast {

namespace {

constexpr int kRows = 4;          // weight rows per register block
constexpr int kCols = 4;          // input rows per register block: 4 x 4 accumulators
constexpr int64_t kTileK = 4096;  // 4 weight rows x 4096 = 64 KB; 16 input rows x 4096 = 256 KB: in L2
// Weight rows are prefetched this many floats ahead: the rows of a block are 4 streams that the
// hardware prefetcher alone kept ~10% short of the batch-1 bandwidth at batch 8 (measured).
constexpr int64_t kPrefetch = 512;
// Where a thread's rows fit one k tile they are one contiguous range, read block by block; it is
// then fetched into L2 as one stream, kStreamAhead floats (16 KB) ahead of the block being read,
// at the rate the blocks consume it, its first 16 KB at once. Layers of 0.2-5 MB (SE
// excitations, MobileNet's classifier) come from memory on every call in a model, and their rows
// are short (240-1280 floats): 4 row streams of 1-5 KB each ended before the per-row prefetch or
// the hardware's own had ramped up, 15-27 GB/s against 40 GB/s for a plain read of 0.9 MB on 2
// threads (AMD EPYC Zen 4). 8 KB ahead or 32 KB, into L1 or L2, with or without the first burst:
// within the noise of each other, all 1.2-1.5x faster than the row streams (see the commit).
constexpr int64_t kStreamAhead = 4096;
constexpr int kStreamLocality = 2;  // __builtin_prefetch's: L2

// How a block fetches its weight rows ahead: as R row streams, as its share of the thread's
// linear stream (from `stream`, never past `end`), or not at all (the rows were fetched by the
// first block of inputs that met them).
struct Ahead {
  const float* stream = nullptr;
  const float* end = nullptr;
  bool rows = true;
  Ahead later() const { return {nullptr, nullptr, false}; }
};

// acc[c * lds + r] += w[r, 0:len] . x[c, 0:len] for r < R, c < C (rows ldw / ldx apart), as
// vectors of W partial sums (the level's width: this file is built per x86-64 level, see
// skinny_gemm_f32); the last len % W products go to the scalars tail[c * lds + r].
template <int W, int R, int C>
inline __attribute__((always_inline)) void dot_block(const float* __restrict__ w, int64_t ldw,
                                                     const float* __restrict__ x, int64_t ldx, int64_t len,
                                                     float* __restrict__ acc_mem, float* __restrict__ tail,
                                                     int64_t lds, Ahead ahead) {
  using vf = vec::vf<W>;
  constexpr int kLanes = W;
  const auto load = [](const float* p) __attribute__((always_inline)) { return vec::load<vf>(p); };
  vf acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = load(acc_mem + (c * lds + r) * kLanes);
  int64_t t = 0;
  for (; t + kLanes <= len; t += kLanes) {
    vf wv[R], xv[C];
    for (int r = 0; r < R; ++r) wv[r] = load(w + r * ldw + t);
    if (ahead.stream) {
      // R rows consume R * W floats per step; a 64-byte line is 16 floats.
      for (int64_t l = 0; l < R * W; l += 16) {
        const float* p = ahead.stream + R * t + l;
        if (p < ahead.end) __builtin_prefetch(p, 0, kStreamLocality);
      }
    } else if (ahead.rows) {
      for (int r = 0; r < R; ++r) __builtin_prefetch(w + r * ldw + t + kPrefetch);
    }
    for (int c = 0; c < C; ++c) xv[c] = load(x + c * ldx + t);
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] += wv[r] * xv[c];
  }
  if (ahead.stream) {  // the share of the last len % W floats of each row
    const float* const share_end = std::min(ahead.end, ahead.stream + R * len);
    for (const float* p = ahead.stream + R * t; p < share_end; p += 16) __builtin_prefetch(p, 0, kStreamLocality);
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      vec::store(acc_mem + (c * lds + r) * kLanes, acc[r][c]);
      for (int64_t u = t; u < len; ++u) tail[c * lds + r] += w[r * ldw + u] * x[c * ldx + u];
    }
  }
}

// The last block of inputs: C = n % kCols rows (a switch over C built by recursion).
template <int W, int R, int C>
inline __attribute__((always_inline)) void tail_block(int64_t rem, const float* w, int64_t ldw, const float* x,
                                                      int64_t ldx, int64_t len, float* acc, float* tail, int64_t lds,
                                                      Ahead ahead) {
  if constexpr (C > 0) {
    if (rem == C) {
      dot_block<W, R, C>(w, ldw, x, ldx, len, acc, tail, lds, ahead);
    } else {
      tail_block<W, R, C - 1>(rem, w, ldw, x, ldx, len, acc, tail, lds, ahead);
    }
  }
}

// One block of R weight rows against every input row, inputs in blocks of kCols.
template <int W, int R>
inline __attribute__((always_inline)) void rows_block(const float* w, int64_t ldw, const float* x, int64_t ldx,
                                                      int64_t n, int64_t len, float* acc, float* tail, int64_t lds,
                                                      Ahead ahead) {
  int64_t i = 0;
  for (; i + kCols <= n; i += kCols, ahead = ahead.later())
    dot_block<W, R, kCols>(w, ldw, x + i * ldx, ldx, len, acc + i * lds * W, tail + i * lds, lds, ahead);
  tail_block<W, R, kCols - 1>(n - i, w, ldw, x + i * ldx, ldx, len, acc + i * lds * W, tail + i * lds, lds, ahead);
}

template <int W>
inline __attribute__((always_inline)) void skinny_gemm_at(const float* x, const float* w, float* out, int64_t n,
                                                          int64_t k, int64_t ldo, int64_t j0, int64_t j1) {
  constexpr int kLanes = W;
  // Partial sums of one block of weight rows, (n, kRows): vectors across k tiles, scalars for
  // the last k % kLanes products.
  std::vector<float> acc(n * kRows * kLanes);
  std::vector<float> tail(n * kRows);
  // Rows [j0, j1) in one k tile: the contiguous range w[j0 * k, j1 * k), read as one stream.
  const bool one_stream = k <= kTileK;
  const float* const stream_end = w + j1 * k;
  if (one_stream) {
    const float* const first = std::min(stream_end, w + j0 * k + kStreamAhead);
    for (const float* p = w + j0 * k; p < first; p += 16) __builtin_prefetch(p, 0, kStreamLocality);
  }
  for (int64_t jb = j0; jb < j1; jb += kRows) {
    const int64_t rows = std::min<int64_t>(kRows, j1 - jb);
    std::fill(acc.begin(), acc.end(), 0.0f);
    std::fill(tail.begin(), tail.end(), 0.0f);
    for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
      const int64_t len = std::min(kTileK, k - k0);
      const float* wt = w + jb * k + k0;
      if (rows == kRows) {
        const Ahead ahead = one_stream ? Ahead{wt + kStreamAhead, stream_end, false} : Ahead{};
        rows_block<W, kRows>(wt, k, x + k0, k, n, len, acc.data(), tail.data(), kRows, ahead);
      } else {
        for (int64_t r = 0; r < rows; ++r)
          rows_block<W, 1>(wt + r * k, k, x + k0, k, n, len, acc.data() + r * kLanes, tail.data() + r, kRows, Ahead{});
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t r = 0; r < rows; ++r) {
        float s = tail[i * kRows + r];
        for (int l = 0; l < kLanes; ++l) s += acc[(i * kRows + r) * kLanes + l];
        out[i * ldo + jb + r] = s;
      }
    }
  }
}

// skinny_gemm_at built per x86-64 level on its width (common/cpu_levels.h): the 16-lane clone ran
// its vectors through the stack on AVX2 (see the commit).
#define CNNFAST_SKINNY_ARGS \
  const float *x, const float *w, float *out, int64_t n, int64_t k, int64_t ldo, int64_t j0, int64_t j1
#if CNNFAST_CPU_LEVELS
CNNFAST_TARGET_V4 void skinny_gemm_v4(CNNFAST_SKINNY_ARGS) { skinny_gemm_at<16>(x, w, out, n, k, ldo, j0, j1); }
CNNFAST_TARGET_V3 void skinny_gemm_v3(CNNFAST_SKINNY_ARGS) { skinny_gemm_at<8>(x, w, out, n, k, ldo, j0, j1); }
#endif
void skinny_gemm_baseline(CNNFAST_SKINNY_ARGS) { skinny_gemm_at<4>(x, w, out, n, k, ldo, j0, j1); }
#undef CNNFAST_SKINNY_ARGS

}  // namespace

void skinny_gemm_f32(const float* x, const float* w, float* out, int64_t n, int64_t k, int64_t ldo, int64_t j0,
                     int64_t j1) {
  CNNFAST_PICK_LEVEL(skinny_gemm)(x, w, out, n, k, ldo, j0, j1);
}

}  // namespace cnnfast
