// The per-ISA kernel table. Each SIMD translation unit (simd_avx512.cc, simd_avx2.cc,
// simd_scalar.cc) fills one table per dtype from the same implementation (simd_impl.h) compiled
// for its instruction set; the addon picks a table at run time by CPUID.
//
// This header is included by the per-ISA units, so it must stay free of inline functions and
// templates from the standard library: only plain declarations and fixed-width integer types.
#pragma once

#include <cstddef>
#include <cstdint>

#include "op_codes.h"  // the op codes the kernels switch on (kRelu, kAdd, kSum, ...)

namespace bp {

template <typename T>
struct Kernels {
  // p0, p1: the op's parameters (lib/backend/types.ts UNARY_OPS), ignored by ops without them.
  void (*unary)(int op, const T* x, T* y, size_t n, double p0, double p1);
  void (*unaryBackward)(int op, const T* x, const T* y, const T* gy, T* gx, size_t n, double p0,
                        double p1);
  // out[i] = a[i] op b[i]
  void (*binaryVV)(int op, const T* a, const T* b, T* out, size_t n);
  // out[i] = a[i] op s, or s op a[i] when scalarFirst
  void (*binaryVS)(int op, const T* a, T s, T* out, size_t n, bool scalarFirst);
  void (*reduce)(int op, const T* x, size_t outer, size_t n, size_t inner, T* out);
  void (*softmax)(const T* x, size_t rows, size_t cols, T* y, bool log);
  void (*softmaxBackward)(const T* y, const T* gy, size_t rows, size_t cols, T* gx, bool log);
  // targets were range-checked by the caller; grad may be null.
  void (*softmaxCrossEntropy)(const T* logits, size_t rows, size_t cols, const int32_t* targets,
                              T* losses, T* grad, double scale);
  void (*sgdStep)(T* param, const T* grad, T* buf, size_t n, double lr, double momentum,
                  double dampening, double weightDecay, bool nesterov, bool firstStep);
  void (*adamStep)(T* param, const T* grad, T* expAvg, T* expAvgSq, T* maxExpAvgSq, size_t n,
                   double step, double lr, double beta1, double beta2, double eps,
                   double weightDecay, bool decoupled);
  // GEMM micro-kernel: C[mr x nr] (row stride ldc) = alpha * Apanel * Bpanel + beta * C,
  // Apanel packed as kc columns of mr values, Bpanel as kc rows of nr values.
  // beta == 0 never reads C.
  void (*gemmMicro)(size_t kc, const T* a, const T* b, T* c, size_t ldc, T alpha, T beta);
  int mr;
  int nr;
  // Small products without packing: C[m x n] = alpha * A B + beta * C with A(i, p) at
  // a[i*ars + p*acs] and B row-major k x n (row stride ldb). scratch holds k * 64 elements
  // (the zero-padded last columns). beta == 0 never reads C.
  void (*gemmSmall)(size_t m, size_t n, size_t k, T alpha, const T* a, size_t ars, size_t acs,
                    const T* b, size_t ldb, T beta, T* c, size_t ldc, T* scratch);
  // The GEMM's transposing pack: dst[p*w + r] = src[r*ld + p] for r < rows <= w, p < cols,
  // zeros in rows [rows, w).
  void (*gemmPackT)(const T* src, size_t ld, size_t rows, size_t cols, size_t w, T* dst);
  // y[i] = exp(x[i] - m) (y may be x); returns the sum, in double (attention's online softmax).
  double (*expShiftSum)(const T* x, T* y, size_t n, T m);
  // Sparse rows (simd_sparse.h, used by sparse.cc): y[0:n] = sum_k vals[k] x[offs[k] + 0:n];
  // dst[dstOffs[k] + 0:n] += vals[k] src[srcOffs[k] + 0:n] (srcOffs null: 0), in k order;
  // dv[k] += dot(g[0:n], x[offs[k] + 0:n]).
  void (*sparseGather)(const T* vals, const int64_t* offs, size_t cnt, const T* x, T* y, size_t n);
  void (*sparseScatter)(const T* vals, const int64_t* dstOffs, const int64_t* srcOffs, size_t cnt,
                        const T* src, T* dst, size_t n);
  void (*sparseDots)(const int64_t* offs, size_t cnt, const T* g, const T* x, T* dv, size_t n);
};

// What a table's code may use, in increasing order. Code outside the per-ISA units that keeps
// its own per-ISA variants (conv's direct paths, pooling, rnn's float gates) picks them by the
// level of the table the addon runs, never by name.
enum class IsaLevel : int { kBaseline = 0, kAvx2, kAvx512 };

struct KernelTable {
  const char* name;  // for reporting (info(), _simdLevels()) and for parsing BACKPROP_SIMD
  IsaLevel level;
  Kernels<float> f32;
  Kernels<double> f64;
};

namespace scalar {
extern const KernelTable table;
}
#if defined(__x86_64__) || defined(_M_X64)
namespace avx2 {
extern const KernelTable table;
}
namespace avx512 {
extern const KernelTable table;
}
#endif

}  // namespace bp
