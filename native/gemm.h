// The built-in GEMM: cache-blocked (KC x NC panels of B, MC x KC blocks of A, both packed into
// micro-panels) around the per-ISA register-tiled micro-kernel, threaded over the pool. The
// packing buffers are workspace slots 0 and 1. gemm_dispatch.h chooses between these paths and
// OpenBLAS.
#pragma once

#include <cstddef>

#include "kernels.h"
#include "thread_pool.h"
#include "workspace.h"

namespace bp {

// C = alpha * op(A) op(B) + beta * C, row-major with leading dimensions; beta == 0 never reads C.
template <typename T>
void gemmBuiltin(bool transA, bool transB, size_t m, size_t n, size_t k, T alpha, const T* a,
                 size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc,
                 const Kernels<T>& kernels, ThreadPool& pool, Workspace& ws);

// Products this small (or this narrow) run faster unpacked than packed, and than a BLAS call
// (blas: whether OpenBLAS would take the product otherwise).
bool gemmIsSmall(size_t m, size_t n, size_t k, bool blas);

// Rows of op(A) up to which an NT product (a linear layer at batch 1..8) runs as one
// matrix-vector product per row of A, over B's contiguous rows, whatever its size: the packed
// path would pad those rows to a whole micro-tile (16 rows) and the unpacked one transpose B.
constexpr size_t kDotRowsMax = 8;
inline bool gemmIsRowDots(bool transA, bool transB, size_t m) {
  return transB && !transA && m <= kDotRowsMax;
}

// The unpacked path for small products (gemmIsSmall); same contract as gemmBuiltin.
template <typename T>
void gemmSmall(bool transA, bool transB, size_t m, size_t n, size_t k, T alpha, const T* a,
               size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc,
               const Kernels<T>& kernels, Workspace& ws);

// C = beta * C, writing zeros (not reading C) when beta == 0.
template <typename T>
void scaleMatrix(size_t m, size_t n, T beta, T* c, size_t ldc);

}  // namespace bp
