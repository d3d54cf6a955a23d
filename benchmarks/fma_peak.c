/* The machine's fp32 FMA peak: 12 independent FMA chains per thread (enough to cover the FMA
 * latency on Zen 3/4/5 and Sapphire Rapids), one OpenMP thread per core, GFLOP/s printed.
 * Built for the running CPU's widest vectors: 512-bit where AVX-512 exists, else 256-bit (AVX2).
 * The ceiling the compute-bound targets are stated against (docs/conv_engine.md).
 *
 *   gcc -O2 -march=native -fopenmp benchmarks/fma_peak.c -o /tmp/fma_peak && OMP_NUM_THREADS=2 /tmp/fma_peak
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <time.h>

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define ISA "AVX-512"
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
static float hsum(vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define ISA "AVX2+FMA"
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
static float hsum(vec v) {
  float t[8];
  _mm256_storeu_ps(t, v);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#else
#error "build with -march=native on a CPU with FMA (AVX2 or AVX-512)"
#endif

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  const long rounds = 50000000;  /* x 12 chains x LANES x 2 flops per thread */
  double best = 0.0, sink = 0.0;
  for (int rep = 0; rep < 3; ++rep) {
    double t0 = 0.0, t1 = 0.0;
#pragma omp parallel reduction(+ : sink)
    {
      vec a[12];
      const vec b = SET1(1.0000001f), c = SET1(1e-7f);
      for (int i = 0; i < 12; ++i) a[i] = SET1((float)i);
#pragma omp barrier
#pragma omp master
      t0 = now();
      for (long r = 0; r < rounds; ++r) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) a[i] = FMA(a[i], b, c);
      }
#pragma omp barrier
#pragma omp master
      t1 = now();
      float s = 0.0f;
      for (int i = 0; i < 12; ++i) s += hsum(a[i]);
      sink += s;
    }
    const double gflops = omp_get_max_threads() * (double)rounds * 12 * LANES * 2 / (t1 - t0) / 1e9;
    if (gflops > best) best = gflops;
  }
  printf("fp32 FMA peak (%s): %.1f GFLOP/s on %d threads (best of 3; checksum %g)\n", ISA, best,
         omp_get_max_threads(), sink);
  return 0;
}
