#include "gemm_dispatch.h"

#include <algorithm>

#include "gemm.h"

namespace bp {
namespace {

void cblasGemm(const Blas& b, int ta, int tb, int m, int n, int k, float alpha, const float* a,
               int lda, const float* bm, int ldb, float beta, float* c, int ldc) {
  b.sgemm(kCblasRowMajor, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc);
}
void cblasGemm(const Blas& b, int ta, int tb, int m, int n, int k, double alpha, const double* a,
               int lda, const double* bm, int ldb, double beta, double* c, int ldc) {
  b.dgemm(kCblasRowMajor, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc);
}

// One BLAS call, split across the addon's pool when OpenBLAS runs single-threaded under it
// (the addon sets its thread count to 1 whenever the library lets it: setNumThreads): each
// thread computes a band of C with its own single-threaded call.
// OpenBLAS's own threads would spin between calls on the cores that the pool needs for the
// kernels around the GEMM; with one pool for everything the threads never compete.
// Bands of rows where C has enough of them: measured on the MLP's shapes at 2 threads, row
// bands beat column bands everywhere (TN 512x784x128: 338 against 421 us) and OpenBLAS's
// own 2 threads (444 us).
template <typename T>
void blasGemm(const Blas& blas, ThreadPool& pool, bool transA, bool transB, size_t m, size_t n,
              size_t kk, T alpha, const T* a, size_t lda, const T* b, size_t ldb, T beta, T* c,
              size_t ldc) {
  const int ta = transA ? kCblasTrans : kCblasNoTrans, tb = transB ? kCblasTrans : kCblasNoTrans;
  const bool ownsBlasThreads = blas.setNumThreads != nullptr;
  const size_t threads = ownsBlasThreads ? static_cast<size_t>(pool.size()) : 1;
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(kk);
  constexpr size_t kAlign = 16;  // whole micro-tiles per band
  const bool splitRows = m >= 2 * kAlign;
  const size_t side = splitRows ? m : n;
  if (threads <= 1 || work < 96.0 * 96 * 96 || side < 2 * kAlign) {
    cblasGemm(blas, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(kk), alpha,
              a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
    return;
  }
  const size_t parts = std::min(threads, side / kAlign);
  const size_t band = ((side + parts - 1) / parts + kAlign - 1) / kAlign * kAlign;
  pool.run(parts, [&](size_t t, int) {
    const size_t from = t * band;
    if (from >= side) return;
    const size_t len = std::min(side, from + band) - from;
    if (splitRows)  // rows [from, from + len) of op(A) and C
      cblasGemm(blas, ta, tb, static_cast<int>(len), static_cast<int>(n), static_cast<int>(kk),
                alpha, transA ? a + from : a + from * lda, static_cast<int>(lda), b,
                static_cast<int>(ldb), beta, c + from * ldc, static_cast<int>(ldc));
    else  // columns [from, from + len) of op(B) and C
      cblasGemm(blas, ta, tb, static_cast<int>(m), static_cast<int>(len), static_cast<int>(kk),
                alpha, a, static_cast<int>(lda), transB ? b + from * ldb : b + from,
                static_cast<int>(ldb), beta, c + from, static_cast<int>(ldc));
  });
}

}  // namespace

template <typename T>
void gemm(const ExecContext& ctx, bool transA, bool transB, size_t m, size_t n, size_t kk, T alpha,
          const T* a, const T* b, T beta, T* c, size_t batch, size_t strideA, size_t strideB,
          size_t strideC) {
  const size_t lda = transA ? m : kk, ldb = transB ? kk : n, ldc = n;
  if (m == 0 || n == 0) return;  // nothing to write, however large batch is
  const Kernels<T>& kernels = kernelsOf<T>(*ctx.simd);
  for (size_t i = 0; i < batch; ++i) {
    const T* ai = a + i * strideA;
    const T* bi = b + i * strideB;
    T* ci = c + i * strideC;
    if (kk == 0) {
      scaleMatrix(m, n, beta, ci, ldc);
    } else if (gemmIsSmall(m, n, kk, ctx.blas != nullptr) ||
               (!ctx.blas && gemmIsRowDots(transA, transB, m))) {
      // Tiny products (the layers of a small MLP) cost less unpacked than a BLAS call's setup.
      gemmSmall<T>(transA, transB, m, n, kk, alpha, ai, lda, bi, ldb, beta, ci, ldc, kernels,
                   *ctx.ws);
    } else if (ctx.blas) {
      blasGemm(*ctx.blas, *ctx.pool, transA, transB, m, n, kk, alpha, ai, lda, bi, ldb, beta, ci,
               ldc);
    } else {
      gemmBuiltin<T>(transA, transB, m, n, kk, alpha, ai, lda, bi, ldb, beta, ci, ldc, kernels,
                     *ctx.pool, *ctx.ws);
    }
  }
}

template void gemm<float>(const ExecContext&, bool, bool, size_t, size_t, size_t, float,
                          const float*, const float*, float, float*, size_t, size_t, size_t,
                          size_t);
template void gemm<double>(const ExecContext&, bool, bool, size_t, size_t, size_t, double,
                           const double*, const double*, double, double*, size_t, size_t, size_t,
                           size_t);

}  // namespace bp
