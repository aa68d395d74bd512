// OpenBLAS found at run time: nothing is linked at build time, so one binary runs with or
// without it. The library is opened once per process and never closed.
#pragma once

#include <string>

namespace bp {

// CBLAS prototypes (declared here so that no cblas.h is needed to build).
enum CblasOrder { kCblasRowMajor = 101 };
enum CblasTranspose { kCblasNoTrans = 111, kCblasTrans = 112 };
typedef void (*SgemmFn)(int order, int transA, int transB, int m, int n, int k, float alpha,
                        const float* a, int lda, const float* b, int ldb, float beta, float* c,
                        int ldc);
typedef void (*DgemmFn)(int order, int transA, int transB, int m, int n, int k, double alpha,
                        const double* a, int lda, const double* b, int ldb, double beta, double* c,
                        int ldc);

struct Blas {
  SgemmFn sgemm = nullptr;
  DgemmFn dgemm = nullptr;
  char* (*getConfig)() = nullptr;
  void (*setNumThreads)(int) = nullptr;
  int (*getNumThreads)() = nullptr;
  std::string version;  // "openblas 0.3.21" (or the library's path when it is not OpenBLAS)
  std::string error;    // why no library was loaded; empty when one was
  bool loaded() const { return sgemm && dgemm; }
};

// Loads on first use (thread-safe); BACKPROP_BLAS picks a library path/name or "builtin".
const Blas& blas();

}  // namespace bp
