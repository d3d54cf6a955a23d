/* The machine's read bandwidth from memory and from a warm, L3-sized buffer: what a batch-1
 * inference that streams its weights (classifier and SE layers) can reach. Each pass sums a
 * buffer with 512-bit loads split over the OpenMP threads; "cold" passes rotate over four 40 MB
 * buffers, so each pass reads from memory. Best of several passes, GB/s printed for 1..N threads.
 *
 *   gcc -O2 -mavx512f -fopenmp benchmarks/read_bandwidth.c -o /tmp/read_bw && /tmp/read_bw
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Sum of n floats (n a multiple of 64) over `threads` threads; four accumulators per thread so
 * the adds do not serialise on their latency. */
static float sum(const float* p, size_t n, int threads) {
  float total = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
#pragma omp for
    for (size_t i = 0; i < n; i += 64) {
      a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
      a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
      a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
      a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
    }
    total += _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  }
  return total;
}

int main(void) {
  const size_t cold_n = (size_t)10 << 20, warm_n = (size_t)2 << 20;  /* 40 MB and 8 MB of floats */
  float* bufs[4];
  for (int b = 0; b < 4; ++b) {
    bufs[b] = aligned_alloc(64, cold_n * sizeof(float));
    for (size_t i = 0; i < cold_n; ++i) bufs[b][i] = 1.0f;
  }
  double sink = 0.0;
  for (int threads = 1; threads <= omp_get_max_threads(); ++threads) {
    double cold = 1e9, warm = 1e9;
    for (int pass = 0; pass < 8; ++pass) {
      double t = now();
      sink += sum(bufs[pass % 4], cold_n, threads);
      t = now() - t;
      if (t < cold) cold = t;
    }
    for (int pass = 0; pass < 20; ++pass) {
      double t = now();
      sink += sum(bufs[0], warm_n, threads);
      t = now() - t;
      if (t < warm) warm = t;
    }
    printf("%d thread(s): %.1f GB/s from memory (40 MB buffers), %.1f GB/s warm (8 MB)\n", threads,
           cold_n * sizeof(float) / cold / 1e9, warm_n * sizeof(float) / warm / 1e9);
  }
  printf("(checksum %g)\n", sink);
  return 0;
}
