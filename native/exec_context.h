// What a kernel borrows from the addon instance that runs it: the SIMD table, the thread pool,
// the scratch workspace and the BLAS library to use for large GEMMs (null: the built-in GEMM).
// A plain struct free of napi, so kernels can run from a C++ test without Node; the bindings
// build one per call from their AddonContext (addon_context.h).
#pragma once

#include "blas.h"
#include "kernels.h"
#include "thread_pool.h"
#include "workspace.h"

namespace bp {

struct ExecContext {
  const KernelTable* simd;
  ThreadPool* pool;
  Workspace* ws;
  const Blas* blas;  // null: GEMMs run on the built-in kernels
};

// The table's kernels for one precision: kernelsOf<T>(table).
template <typename T>
const Kernels<T>& kernelsOf(const KernelTable& t);
template <>
inline const Kernels<float>& kernelsOf<float>(const KernelTable& t) {
  return t.f32;
}
template <>
inline const Kernels<double>& kernelsOf<double>(const KernelTable& t) {
  return t.f64;
}

}  // namespace bp
