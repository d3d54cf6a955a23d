/* The machine's fp32 FMA peak: 12 independent 512-bit FMA chains per thread (enough to cover the
 * FMA latency on Zen 4/5 and Sapphire Rapids), one OpenMP thread per core, GFLOP/s printed.
 * The ceiling the compute-bound targets are stated against (docs/conv_engine.md).
 *
 *   gcc -O2 -mavx512f -fopenmp benchmarks/fma_peak.c -o /tmp/fma_peak && OMP_NUM_THREADS=2 /tmp/fma_peak
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  const long rounds = 50000000;  /* x 12 chains x 16 lanes x 2 flops per thread */
  double best = 0.0, sink = 0.0;
  for (int rep = 0; rep < 3; ++rep) {
    double t0 = 0.0, t1 = 0.0;
#pragma omp parallel reduction(+ : sink)
    {
      __m512 a[12];
      const __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
      for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps((float)i);
#pragma omp barrier
#pragma omp master
      t0 = now();
      for (long r = 0; r < rounds; ++r) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
      }
#pragma omp barrier
#pragma omp master
      t1 = now();
      float s = 0.0f;
      for (int i = 0; i < 12; ++i) s += _mm512_reduce_add_ps(a[i]);
      sink += s;
    }
    const double gflops = omp_get_max_threads() * (double)rounds * 12 * 16 * 2 / (t1 - t0) / 1e9;
    if (gflops > best) best = gflops;
  }
  printf("fp32 FMA peak: %.1f GFLOP/s on %d threads (best of 3; checksum %g)\n", best, omp_get_max_threads(), sink);
  return 0;
}
