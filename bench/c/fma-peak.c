/* The float32 FMA peak of this CPU, measured: GFLOP/s of one core, and of all the CPUs this
 * process may run on (one pinned thread each, running together; their flops summed over the
 * wall time from the first start to the last finish). Benchmark figures are read against it,
 * because the machines they run on differ from session to session.
 *
 * usage: fma-peak [avx512f|avx2|generic]   (no argument: the widest kernel this CPU runs)
 * prints one JSON line:
 * {"isa":"avx512f","lanes":16,"chains":16,"peak1":...,"peakAll":...,"cores":2}
 *
 * Built by bench/_common.js with: cc -O2 -pthread fma-peak.c -o fma-peak. There is no -march:
 * each x86 kernel carries its own target attribute, and main() picks one with
 * __builtin_cpu_supports, so one binary runs anywhere.
 *
 * Each kernel updates `chains` independent accumulators, acc = acc * MUL + ADD, one FMA each per
 * iteration. An FMA has a latency of 4-5 cycles and modern cores start two per cycle, so at least
 * 8-10 chains must be in flight to keep both units busy; the kernels use more (as many as the
 * registers hold) so that latency never limits them. MUL and ADD keep every accumulator near 1:
 * no overflow and no denormals, whose slow path would understate the peak. Each FMA counts 2
 * flops per lane. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86_KERNELS 1
#endif

#define MUL 0.9999f
#define ADD 1e-4f
/* One timed run lasts about RUN_SECONDS: well above timer and thread wake-up costs, and short
 * enough that on a shared machine some of the RUNS runs fit between other processes' time
 * slices; the best run counts. */
#define RUN_SECONDS 0.005
#define RUNS 60
#define MAX_CPUS 1024

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The accumulator names, written out so that the compiler keeps each in a register (an
 * array indexed in a loop may stay in memory at -O2, and then store-to-load latency, not the
 * FMA units, would set the pace). */
#define EACH16(X) \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define EACH12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

typedef float (*kernel_fn)(long iterations);

typedef struct {
  const char *isa;
  int lanes;  /* floats per vector */
  int chains; /* independent FMAs per iteration */
  kernel_fn run;
} kernel;

#ifdef HAVE_X86_KERNELS
/* AVX-512: 32 vector registers, so 16 chains plus the two constants fit. */
__attribute__((target("avx512f"))) static float fma_avx512f(long iterations) {
  const __m512 mul = _mm512_set1_ps(MUL), add = _mm512_set1_ps(ADD);
#define DECLARE(i) __m512 acc##i = _mm512_set1_ps((float)(i) / 16.0f);
#define STEP(i) acc##i = _mm512_fmadd_ps(acc##i, mul, add);
#define SUM(i) sum = _mm512_add_ps(sum, acc##i);
  EACH16(DECLARE)
  for (long it = 0; it < iterations; it++) {
    EACH16(STEP)
  }
  __m512 sum = _mm512_setzero_ps();
  EACH16(SUM)
#undef DECLARE
#undef STEP
#undef SUM
  return _mm512_reduce_add_ps(sum);
}

/* AVX2 + FMA: 16 vector registers, so 12 chains plus the two constants (Haswell and Zen 2 need
 * 10: latency 5 times two units). */
__attribute__((target("avx2,fma"))) static float fma_avx2(long iterations) {
  const __m256 mul = _mm256_set1_ps(MUL), add = _mm256_set1_ps(ADD);
#define DECLARE(i) __m256 acc##i = _mm256_set1_ps((float)(i) / 16.0f);
#define STEP(i) acc##i = _mm256_fmadd_ps(acc##i, mul, add);
#define SUM(i) sum = _mm256_add_ps(sum, acc##i);
  EACH12(DECLARE)
  for (long it = 0; it < iterations; it++) {
    EACH12(STEP)
  }
  __m256 sum = _mm256_setzero_ps();
  EACH12(SUM)
#undef DECLARE
#undef STEP
#undef SUM
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  float total = 0;
  for (int i = 0; i < 8; i++) total += lanes[i];
  return total;
}
#endif

/* Portable: 128-bit vectors through the compiler's vector extension. Where the target has FMA
 * (AArch64, for one) `acc * mul + add` contracts into it; on x86 without -mfma it is a multiply
 * and an add, still 2 flops per lane. x86 without AVX has 16 vector registers: 12 chains and the
 * constants fit (16 would spill accumulators to the stack and put its latency in the chains);
 * AArch64 has 32, enough for 16 (four FMA pipes of latency 4 need 16). */
#ifdef HAVE_X86_KERNELS
#define GENERIC_CHAINS 12
#define EACH_GENERIC EACH12
#else
#define GENERIC_CHAINS 16
#define EACH_GENERIC EACH16
#endif
typedef float v4sf __attribute__((vector_size(16)));
static float fma_generic(long iterations) {
  const v4sf mul = {MUL, MUL, MUL, MUL}, add = {ADD, ADD, ADD, ADD};
#define DECLARE(i) v4sf acc##i = {(float)(i) / 16.0f, 0.5f, 0.25f, 0.125f};
#define STEP(i) acc##i = acc##i * mul + add;
#define SUM(i) sum += acc##i;
  EACH_GENERIC(DECLARE)
  for (long it = 0; it < iterations; it++) {
    EACH_GENERIC(STEP)
  }
  v4sf sum = {0, 0, 0, 0};
  EACH_GENERIC(SUM)
#undef DECLARE
#undef STEP
#undef SUM
  return sum[0] + sum[1] + sum[2] + sum[3];
}

static const kernel kernels[] = {
#ifdef HAVE_X86_KERNELS
    {"avx512f", 16, 16, fma_avx512f},
    {"avx2", 8, 12, fma_avx2},
#endif
    {"generic", 4, GENERIC_CHAINS, fma_generic},
};
#define KERNEL_COUNT ((int)(sizeof kernels / sizeof kernels[0]))

static int cpu_runs(const kernel *k) {
#ifdef HAVE_X86_KERNELS
  __builtin_cpu_init();
  if (strcmp(k->isa, "avx512f") == 0) return __builtin_cpu_supports("avx512f");
  if (strcmp(k->isa, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  (void)k;
  return 1;
}

/* Written by every kernel call, so the compiler cannot drop the work as unused. */
static volatile float sink;

static double flops_per_call(const kernel *k, long iterations) {
  return 2.0 * k->lanes * k->chains * (double)iterations;
}

/* Iterations for one run of about RUN_SECONDS on one core (which also warms the core up). */
static long calibrate(const kernel *k) {
  long iterations = 1 << 12;
  for (;;) {
    const double t0 = now();
    sink = k->run(iterations);
    const double dt = now() - t0;
    if (dt >= RUN_SECONDS / 4) return (long)((double)iterations * RUN_SECONDS / dt) + 1;
    iterations *= 2;
  }
}

/* A reusable barrier from a mutex and a condition variable (pthread_barrier_t is not everywhere).
 */
typedef struct {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int parties, waiting;
  unsigned long generation;
} barrier;

static void barrier_wait(barrier *b) {
  pthread_mutex_lock(&b->mutex);
  const unsigned long generation = b->generation;
  if (++b->waiting == b->parties) {
    b->waiting = 0;
    b->generation++;
    pthread_cond_broadcast(&b->cond);
  } else {
    while (generation == b->generation) pthread_cond_wait(&b->cond, &b->mutex);
  }
  pthread_mutex_unlock(&b->mutex);
}

typedef struct {
  const kernel *k;
  long iterations;
  barrier *start, *done;
  int cpu; /* CPU to pin to, or -1 */
  double t0, t1;
} worker;

static void pin_to(int cpu) {
#ifdef __linux__
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  /* Best effort: unpinned threads still measure, only less steadily. */
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
#else
  (void)cpu;
#endif
}

static void *worker_main(void *arg) {
  worker *w = arg;
  pin_to(w->cpu);
  for (int run = 0; run < RUNS; run++) {
    barrier_wait(w->start);
    w->t0 = now();
    sink = w->k->run(w->iterations);
    w->t1 = now();
    barrier_wait(w->done);
  }
  return NULL;
}

/* The CPUs this process may run on (its affinity mask, which a container may narrow). */
static int usable_cpus(int *ids, int max) {
  int count = 0;
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE && count < max; cpu++)
      if (CPU_ISSET(cpu, &set)) ids[count++] = cpu;
    if (count > 0) return count;
  }
#endif
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online < 1) online = 1;
  for (count = 0; count < online && count < max; count++) ids[count] = -1;
  return count;
}

static double peak_one_core(const kernel *k, long iterations) {
  double best = 0;
  for (int run = 0; run < RUNS; run++) {
    const double t0 = now();
    sink = k->run(iterations);
    const double rate = flops_per_call(k, iterations) / (now() - t0);
    if (rate > best) best = rate;
  }
  return best / 1e9;
}

/* All threads start each run together; the run's rate is all their flops over the time from
 * the first start to the last finish, and the best run counts. */
static double peak_all_cores(const kernel *k, long iterations, const int *cpus, int count) {
  barrier start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, count + 1, 0, 0};
  barrier done = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, count + 1, 0, 0};
  worker *workers = calloc((size_t)count, sizeof *workers);
  pthread_t *threads = calloc((size_t)count, sizeof *threads);
  if (!workers || !threads) {
    fprintf(stderr, "fma-peak: out of memory for %d threads\n", count);
    exit(1);
  }
  for (int i = 0; i < count; i++) {
    workers[i] = (worker){k, iterations, &start, &done, cpus[i], 0, 0};
    if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) {
      fprintf(stderr, "fma-peak: cannot start thread %d of %d\n", i + 1, count);
      exit(1);
    }
  }
  double best = 0;
  for (int run = 0; run < RUNS; run++) {
    barrier_wait(&start);
    barrier_wait(&done);
    double first = workers[0].t0, last = workers[0].t1;
    for (int i = 1; i < count; i++) {
      if (workers[i].t0 < first) first = workers[i].t0;
      if (workers[i].t1 > last) last = workers[i].t1;
    }
    const double rate = count * flops_per_call(k, iterations) / (last - first);
    if (rate > best) best = rate;
  }
  for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);
  free(workers);
  free(threads);
  return best / 1e9;
}

int main(int argc, char **argv) {
  const kernel *chosen = NULL;
  if (argc > 2) {
    fprintf(stderr, "usage: %s [avx512f|avx2|generic]\n", argv[0]);
    return 2;
  }
  for (int i = 0; i < KERNEL_COUNT && !chosen; i++) {
    const kernel *k = &kernels[i];
    if (argc == 2 ? strcmp(argv[1], k->isa) == 0 : cpu_runs(k)) chosen = k;
  }
  if (!chosen) {
    fprintf(stderr, "fma-peak: no kernel named %s in this build\n", argv[1]);
    return 2;
  }
  if (!cpu_runs(chosen)) {
    fprintf(stderr, "fma-peak: this CPU does not run %s\n", chosen->isa);
    return 2;
  }
  /* The one-core runs are not pinned: the scheduler may move them off a CPU that another
   * process keeps busy. */
  static int cpus[MAX_CPUS];
  const int count = usable_cpus(cpus, MAX_CPUS);
  const long iterations = calibrate(chosen);
  const double peak1 = peak_one_core(chosen, iterations);
  const double peak_all = peak_all_cores(chosen, iterations, cpus, count);
  printf(
      "{\"isa\":\"%s\",\"lanes\":%d,\"chains\":%d,\"peak1\":%.2f,\"peakAll\":%.2f,\"cores\":%d}\n",
      chosen->isa, chosen->lanes, chosen->chains, peak1, peak_all, count);
  return 0;
}
