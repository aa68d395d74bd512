// The state of one addon instance (one per JS environment: the main thread or a worker): the
// SIMD table it runs, whether large GEMMs go to OpenBLAS, its thread pool and its workspace.
// Free of napi: the Addon (addon.h) owns one and its bindings hand kernels exec(), a view of it.
#pragma once

#include <memory>

#include "blas.h"
#include "exec_context.h"
#include "thread_pool.h"
#include "workspace.h"

namespace bp {

class AddonContext {
 public:
  // blas: the loaded library large GEMMs go to, or null for the built-in GEMM.
  AddonContext(const KernelTable* simd, const Blas* blas, int threads)
      : simd_(simd), blas_(blas), pool_(std::make_unique<ThreadPool>(threads)) {}

  const KernelTable& simd() const { return *simd_; }
  void setSimd(const KernelTable* simd) { simd_ = simd; }

  const Blas* blasForGemm() const { return blas_; }
  void setBlasForGemm(const Blas* blas) { blas_ = blas; }

  ThreadPool& pool() { return *pool_; }
  int threads() const { return pool_->size(); }
  // Replaces the pool (the old workers are joined first) when the count changes.
  void setThreads(int threads) {
    if (threads == pool_->size()) return;
    pool_.reset();
    pool_ = std::make_unique<ThreadPool>(threads);
  }

  // What a kernel called now borrows: valid until the next setThreads.
  ExecContext exec() { return {simd_, pool_.get(), &workspace_, blas_}; }

 private:
  const KernelTable* simd_;
  const Blas* blas_;
  std::unique_ptr<ThreadPool> pool_;
  Workspace workspace_;
};

}  // namespace bp
