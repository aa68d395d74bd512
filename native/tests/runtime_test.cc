// The runtime pieces the kernels lean on: the thread pool (every task runs exactly once, on a
// valid thread index, jobs back to back) and the OpenBLAS loader (a loaded library computes a
// product that matches a naive one; a missing one leaves a reason).
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "blas.h"
#include "test_support.h"
#include "thread_pool.h"

namespace {

using namespace bpt;

BP_TEST(threadPoolRunsEveryTaskOnce) {
  for (int threads : {1, 2, 3}) {
    bp::ThreadPool pool(threads);
    BP_CHECK_EQ(pool.size(), threads);
    for (size_t tasks : {0, 1, 2, 5, 64, 1000}) {
      for (int job = 0; job < 3; ++job) {  // consecutive jobs reuse the workers
        Context c(str("threads=", threads, " tasks=", tasks, " job ", job));
        std::vector<std::atomic<int>> runs(tasks);
        std::atomic<int> badThread{0};
        pool.run(tasks, [&](size_t t, int thread) {
          runs[t].fetch_add(1);
          if (thread < 0 || thread >= threads) badThread.fetch_add(1);
        });
        size_t wrong = 0;
        for (size_t t = 0; t < tasks; ++t) wrong += runs[t].load() != 1;
        BP_CHECK_EQ(wrong, size_t(0));
        BP_CHECK_EQ(badThread.load(), 0);
      }
    }
  }
}

BP_TEST(blasLoaderReportsWhatItFound) {
  const bp::Blas& b = bp::blas();
  if (!b.loaded()) {
    note(str("no BLAS library loaded (", b.error, "): only the report is checked"));
    BP_CHECK(!b.error.empty());
    return;
  }
  BP_CHECK(b.error.empty());
  BP_CHECK(b.version.rfind("openblas ", 0) == 0 || b.version.rfind("cblas ", 0) == 0);
  // C (2 x 3) = A (2 x 4) B (4 x 3), row-major, through the loaded cblas_dgemm and cblas_sgemm.
  const double a[8] = {1, 2, 3, 4, -1, 0.5, 2, -3};
  const double bm[12] = {1, 0, 2, -1, 3, 1, 0.5, 2, -2, 4, 1, 0};
  double ref[6];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      ref[i * 3 + j] = 0;
      for (int p = 0; p < 4; ++p) ref[i * 3 + j] += a[i * 4 + p] * bm[p * 3 + j];
    }
  double c[6];
  b.dgemm(bp::kCblasRowMajor, bp::kCblasNoTrans, bp::kCblasNoTrans, 2, 3, 4, 1.0, a, 4, bm, 3, 0.0,
          c, 3);
  BP_CHECK_CLOSE("dgemm C", c, ref, 6, kExact);
  float af[8], bf[12], cf[6];
  for (int i = 0; i < 8; ++i) af[i] = static_cast<float>(a[i]);
  for (int i = 0; i < 12; ++i) bf[i] = static_cast<float>(bm[i]);
  b.sgemm(bp::kCblasRowMajor, bp::kCblasNoTrans, bp::kCblasNoTrans, 2, 3, 4, 1.0f, af, 4, bf, 3,
          0.0f, cf, 3);
  BP_CHECK_CLOSE("sgemm C", cf, ref, 6, kExact);  // small integers and halves: exact in float
}

}  // namespace
