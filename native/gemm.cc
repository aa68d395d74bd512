#include "gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace bp {

template <typename T>
void scaleMatrix(size_t m, size_t n, T beta, T* c, size_t ldc) {
  for (size_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0))
      std::fill(row, row + n, T(0));
    else if (beta != T(1))
      for (size_t j = 0; j < n; ++j) row[j] *= beta;
  }
}

namespace {

template <typename T>
struct Blocking;
template <>
struct Blocking<float> {
  static constexpr size_t kc = 256, mcRows = 16, nc = 1024;
};
template <>
struct Blocking<double> {
  static constexpr size_t kc = 128, mcRows = 16, nc = 1024;
};

// Packs op(A)[i0:i0+mc, p0:p0+kc] as micro-panels of mr rows: panel s holds, for each p, the
// mr values of column p (rows past mc are zero). packT: the table's transposing pack.
template <typename T>
void packA(bool transA, const T* a, size_t lda, size_t i0, size_t mc, size_t p0, size_t kc,
           size_t mr, T* dst, const Kernels<T>& kernels) {
  for (size_t s = 0; s < mc; s += mr) {
    const size_t rows = std::min(mr, mc - s);
    if (transA) {
      // A stored k x m: column p of op(A) is contiguous in row p of A.
      for (size_t p = 0; p < kc; ++p) {
        const T* src = a + (p0 + p) * lda + i0 + s;
        size_t r = 0;
        for (; r < rows; ++r) dst[p * mr + r] = src[r];
        for (; r < mr; ++r) dst[p * mr + r] = T(0);
      }
    } else {
      kernels.gemmPackT(a + (i0 + s) * lda + p0, lda, rows, kc, mr, dst);
    }
    dst += kc * mr;
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] as micro-panels of nr columns.
template <typename T>
void packB(bool transB, const T* b, size_t ldb, size_t p0, size_t kc, size_t j0, size_t nc,
           size_t nr, T* dst, const Kernels<T>& kernels) {
  for (size_t s = 0; s < nc; s += nr) {
    const size_t cols = std::min(nr, nc - s);
    if (!transB) {
      for (size_t p = 0; p < kc; ++p) {
        const T* src = b + (p0 + p) * ldb + j0 + s;
        T* d = dst + p * nr;
        std::memcpy(d, src, cols * sizeof(T));
        for (size_t c = cols; c < nr; ++c) d[c] = T(0);
      }
    } else {
      // B stored n x k: column j of op(B) is row j of B.
      kernels.gemmPackT(b + (j0 + s) * ldb + p0, ldb, cols, kc, nr, dst);
    }
    dst += kc * nr;
  }
}

}  // namespace

template <typename T>
void gemmBuiltin(bool transA, bool transB, size_t m, size_t n, size_t k, T alpha, const T* a,
                 size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc,
                 const Kernels<T>& kernels, ThreadPool& pool, Workspace& ws) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {
    scaleMatrix(m, n, beta, c, ldc);
    return;
  }
  const size_t mr = static_cast<size_t>(kernels.mr);
  const size_t nr = static_cast<size_t>(kernels.nr);
  const size_t kcMax = Blocking<T>::kc;
  const size_t mcMax = mr * Blocking<T>::mcRows;
  const size_t ncMax = (Blocking<T>::nc + nr - 1) / nr * nr;
  const size_t threads = static_cast<size_t>(pool.size());
  // Waking the pool costs some microseconds: only worth it from ~200^3 multiply-adds on.
  const bool parallel = threads > 1 && static_cast<double>(m) * n * k >= 200.0 * 200 * 200;
  // Row blocks of equal size (a 192 + 64 split would leave one thread idle most of the time).
  const size_t mBlocks = (m + mcMax - 1) / mcMax;
  const size_t mc = std::min(mcMax, ((m + mBlocks - 1) / mBlocks + mr - 1) / mr * mr);
  const size_t mPad = (m + mr - 1) / mr * mr;

  // The whole k-slice of A (all row blocks) and the B panel are packed once per (j0, p0), shared
  // by all threads; the products then run as a grid of (row block, column chunk) tasks, several
  // per thread, so that a thread the OS preempts does not hold up the others for long.
  const size_t ncAlloc = std::min(ncMax, (n + nr - 1) / nr * nr);
  T* bPack = static_cast<T*>(ws.bytes(0, kcMax * ncAlloc * sizeof(T)));
  T* aPack = static_cast<T*>(ws.bytes(1, kcMax * mPad * sizeof(T)));
  const size_t aSlivers = mPad / mr;

  for (size_t j0 = 0; j0 < n; j0 += ncMax) {
    const size_t nc = std::min(ncMax, n - j0);
    const size_t slivers = (nc + nr - 1) / nr;
    const size_t chunks =
        parallel ? std::min(slivers, (4 * threads + mBlocks - 1) / mBlocks) : size_t(1);
    const size_t perChunk = (slivers + chunks - 1) / chunks;
    for (size_t p0 = 0; p0 < k; p0 += kcMax) {
      const size_t kc = std::min(kcMax, k - p0);
      const T betaEff = p0 == 0 ? beta : T(1);

      // Packing: tasks [0, packParts) pack A slivers, the rest pack B slivers.
      const size_t packParts = parallel ? 2 * threads : 1;
      const size_t aPer = (aSlivers + packParts - 1) / packParts;
      const size_t bPer = (slivers + packParts - 1) / packParts;
      auto pack = [&](size_t t, int) {
        if (t < packParts) {
          const size_t s0 = t * aPer, s1 = std::min(aSlivers, s0 + aPer);
          if (s0 < s1)
            packA(transA, a, lda, s0 * mr, std::min(m, s1 * mr) - s0 * mr, p0, kc, mr,
                  aPack + s0 * mr * kc, kernels);
        } else {
          const size_t s0 = (t - packParts) * bPer, s1 = std::min(slivers, s0 + bPer);
          if (s0 < s1)
            packB(transB, b, ldb, p0, kc, j0 + s0 * nr, std::min(nc, s1 * nr) - s0 * nr, nr,
                  bPack + s0 * kc * nr, kernels);
        }
      };

      auto compute = [&](size_t t, int) {
        const size_t blk = t / chunks, chunk = t % chunks;
        const size_t i0 = blk * mc;
        if (i0 >= m) return;
        const size_t mcb = std::min(mc, m - i0);
        const size_t sBegin = chunk * perChunk;
        const size_t sEnd = std::min(slivers, sBegin + perChunk);
        const T* ap = aPack + i0 * kc;  // i0 is a multiple of mr: sliver i0 / mr
        alignas(64) T tile[16 * 64];    // mr * nr <= 1024 for every kernel table
        for (size_t s = sBegin; s < sEnd; ++s) {
          const size_t jj = j0 + s * nr;
          const size_t cols = std::min(nr, n - jj);
          const T* bp = bPack + s * kc * nr;
          for (size_t r = 0; r < mcb; r += mr) {
            const size_t rows = std::min(mr, mcb - r);
            const T* apr = ap + r * kc;
            T* cp = c + (i0 + r) * ldc + jj;
            if (rows == mr && cols == nr) {
              kernels.gemmMicro(kc, apr, bp, cp, ldc, alpha, betaEff);
            } else {
              kernels.gemmMicro(kc, apr, bp, tile, nr, alpha, T(0));
              for (size_t i = 0; i < rows; ++i)
                for (size_t j = 0; j < cols; ++j) {
                  T& dst = cp[i * ldc + j];
                  dst = betaEff == T(0) ? tile[i * nr + j] : tile[i * nr + j] + betaEff * dst;
                }
            }
          }
        }
      };

      const size_t tasks = mBlocks * chunks;
      if (parallel) {
        pool.run(2 * packParts, pack);
        pool.run(tasks, compute);
      } else {
        pack(0, 0);
        pack(1, 0);
        for (size_t t = 0; t < tasks; ++t) compute(t, 0);
      }
    }
  }
}

bool gemmIsSmall(size_t m, size_t n, size_t k, bool blas) {
  // Measured crossovers (AVX-512, float32): the unpacked kernel matches OpenBLAS up to ~64^3
  // and beats it where the call's fixed cost dominates (~32^3); it beats the packed built-in
  // GEMM up to ~96^3, and at any size when C is narrower than 16 columns (a classifier's
  // output layer), where the packed path would spend most of its 32-wide tiles on padding.
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  // With OpenBLAS too when C is narrower than 16 columns: a 128x10x256 product (an MLP's
  // output layer) takes 11 us unpacked against 13-15 us in OpenBLAS. Bounded, so that a long
  // matrix-vector product still goes to the BLAS.
  if (blas) return work <= 32.0 * 32 * 32 || (n < 16 && work <= 1024.0 * 1024);
  return work <= 80.0 * 80 * 80 || n < 16;
}

template <typename T>
void gemmSmall(bool transA, bool transB, size_t m, size_t n, size_t k, T alpha, const T* a,
               size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc,
               const Kernels<T>& kernels, Workspace& ws) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {
    scaleMatrix(m, n, beta, c, ldc);
    return;
  }
  if (gemmIsRowDots(transA, transB, m)) {
    // A few rows times Bᵀ (a linear layer at batch 1..8): each row of C is B times a row of A,
    // a matrix-vector product over B's contiguous rows. Transposing B first would touch all of
    // B with strided writes on every call, several times the products' cost at these m
    // (batch-1 784-512-256-10 inference: 2.8 ms that way).
    T* scratch = static_cast<T*>(ws.bytes(0, sizeof(T)));
    for (size_t i = 0; i < m; ++i)
      kernels.gemmSmall(n, 1, k, alpha, b, ldb, 1, a + i * lda, 1, beta, c + i * ldc, 1, scratch);
    return;
  }
  T* scratch = static_cast<T*>(ws.bytes(0, (k * 64 + (transB ? k * n : 0)) * sizeof(T)));
  if (transB) {
    // op(B) = B^T: lay it out k x n so that rows of op(B) are contiguous.
    T* bt = scratch + k * 64;
    for (size_t j = 0; j < n; ++j)
      for (size_t p = 0; p < k; ++p) bt[p * n + j] = b[j * ldb + p];
    b = bt;
    ldb = n;
  }
  kernels.gemmSmall(m, n, k, alpha, a, transA ? 1 : lda, transA ? lda : 1, b, ldb, beta, c, ldc,
                    scratch);
}

template void scaleMatrix<float>(size_t, size_t, float, float*, size_t);
template void scaleMatrix<double>(size_t, size_t, double, double*, size_t);
template void gemmSmall<float>(bool, bool, size_t, size_t, size_t, float, const float*, size_t,
                               const float*, size_t, float, float*, size_t, const Kernels<float>&,
                               Workspace&);
template void gemmSmall<double>(bool, bool, size_t, size_t, size_t, double, const double*, size_t,
                                const double*, size_t, double, double*, size_t,
                                const Kernels<double>&, Workspace&);
template void gemmBuiltin<float>(bool, bool, size_t, size_t, size_t, float, const float*, size_t,
                                 const float*, size_t, float, float*, size_t, const Kernels<float>&,
                                 ThreadPool&, Workspace&);
template void gemmBuiltin<double>(bool, bool, size_t, size_t, size_t, double, const double*, size_t,
                                  const double*, size_t, double, double*, size_t,
                                  const Kernels<double>&, ThreadPool&, Workspace&);

}  // namespace bp
