// The built-in GEMM: cache-blocked (KC x NC panels of B, MC x KC blocks of A, both packed into
// micro-panels) around the per-ISA register-tiled micro-kernel, threaded over the pool.
#pragma once

#include <cstddef>
#include <vector>

#include "kernels.h"
#include "thread_pool.h"

namespace bp {

// Packing buffers, reused across calls of one addon instance (one JS thread at a time).
class GemmWorkspace {
 public:
  // Returns a 64-byte aligned buffer of at least `bytes`, one per slot.
  void* buffer(size_t slot, size_t bytes);

 private:
  std::vector<std::vector<unsigned char>> buffers_;
};

// C = alpha * op(A) op(B) + beta * C, row-major with leading dimensions; beta == 0 never reads C.
template <typename T>
void gemmBuiltin(bool transA, bool transB, size_t m, size_t n, size_t k, T alpha, const T* a,
                 size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc,
                 const Kernels<T>& kernels, ThreadPool& pool, GemmWorkspace& ws);

// Products this small (or this narrow) run faster unpacked than packed, and than a BLAS call
// (blas: whether OpenBLAS would take the product otherwise).
bool gemmIsSmall(size_t m, size_t n, size_t k, bool blas);

// The unpacked path for small products (gemmIsSmall); same contract as gemmBuiltin.
template <typename T>
void gemmSmall(bool transA, bool transB, size_t m, size_t n, size_t k, T alpha, const T* a,
               size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc,
               const Kernels<T>& kernels, GemmWorkspace& ws);

// C = beta * C, writing zeros (not reading C) when beta == 0.
template <typename T>
void scaleMatrix(size_t m, size_t n, T beta, T* c, size_t ldc);

}  // namespace bp
