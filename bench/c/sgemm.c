/* SGEMM through OpenBLAS called directly: the ceiling the addon's GEMM is compared with.
 * usage: sgemm THREADS N [N...]; prints "N GFLOPS" per line (best of the repetitions that fit
 * in about MIN_SECONDS, at least MIN_REPS of them, after one warm-up call).
 * Built by bench/gemm.js with: cc -O2 sgemm.c -o sgemm -lopenblas */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MIN_SECONDS 0.4
#define MIN_REPS 2

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *random_matrix(size_t n, unsigned *seed) {
  float *m = malloc(n * n * sizeof(float));
  if (!m) {
    fprintf(stderr, "sgemm: out of memory for n=%zu\n", n);
    exit(1);
  }
  for (size_t i = 0; i < n * n; i++) m[i] = (float)rand_r(seed) / (float)RAND_MAX * 2.0f - 1.0f;
  return m;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s THREADS N [N...]\n", argv[0]);
    return 2;
  }
  openblas_set_num_threads(atoi(argv[1]));
  unsigned seed = 42;
  for (int arg = 2; arg < argc; arg++) {
    const int n = atoi(argv[arg]);
    if (n <= 0) {
      fprintf(stderr, "sgemm: bad size %s\n", argv[arg]);
      return 2;
    }
    float *a = random_matrix((size_t)n, &seed);
    float *b = random_matrix((size_t)n, &seed);
    float *c = random_matrix((size_t)n, &seed);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double best = 1e300, total = 0;
    for (int rep = 0; rep < MIN_REPS || total < MIN_SECONDS; rep++) {
      const double t0 = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
      const double dt = now() - t0;
      total += dt;
      if (dt < best) best = dt;
    }
    printf("%d %.3f\n", n, 2.0 * n * (double)n * n / best / 1e9);
    fflush(stdout);
    free(a);
    free(b);
    free(c);
  }
  return 0;
}
