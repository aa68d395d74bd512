// The GEMM entry point: for each of `batch` products, C = alpha * op(A) op(B) + beta * C
// (row-major, lda = transA ? m : k, ldb = transB ? k : n, ldc = n), choosing per product between
// the unpacked small-product kernel, OpenBLAS (when ctx.blas is set) spread over the addon's
// pool, and the built-in packed GEMM. beta == 0 never reads C.
#pragma once

#include <cstddef>

#include "exec_context.h"

namespace bp {

// Product i reads a + i*strideA and b + i*strideB and writes c + i*strideC. Throws
// std::bad_alloc when the packing buffers cannot grow.
template <typename T>
void gemm(const ExecContext& ctx, bool transA, bool transB, size_t m, size_t n, size_t k, T alpha,
          const T* a, const T* b, T beta, T* c, size_t batch, size_t strideA, size_t strideB,
          size_t strideC);

}  // namespace bp
