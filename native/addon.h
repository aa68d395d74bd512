// The backprop addon: one instance per JS environment (main thread or worker), owning an
// AddonContext (SIMD table, BLAS switch, thread pool, workspace). addon.cc sets it up and
// registers the exports; each bind_*.cc defines the bindings of one kernel family, which check
// their arguments with Args (args.h) before touching memory and then call a napi-free kernel
// with ctx_.exec().
#pragma once

#include <napi.h>

#include <cstddef>

#include "addon_context.h"
#include "args.h"
#include "exec_context.h"
#include "parallel.h"

namespace bp {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);

 private:
  // Configuration and test hooks (addon.cc).
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value SetNumThreads(const Napi::CallbackInfo& info);
  Napi::Value SetSimd(const Napi::CallbackInfo& info);
  Napi::Value SimdLevels(const Napi::CallbackInfo& info);
  Napi::Value SetBlas(const Napi::CallbackInfo& info);
  Napi::Value OpNames(const Napi::CallbackInfo& info);

  // bind_gemm.cc
  Napi::Value Gemm(const Napi::CallbackInfo& info);

  // bind_elementwise.cc
  Napi::Value Unary(const Napi::CallbackInfo& info);
  Napi::Value UnaryBackward(const Napi::CallbackInfo& info);
  Napi::Value Binary(const Napi::CallbackInfo& info);
  Napi::Value BinaryScalar(const Napi::CallbackInfo& info);
  Napi::Value BiasAdd(const Napi::CallbackInfo& info);
  Napi::Value Softmax(const Napi::CallbackInfo& info);
  Napi::Value LogSoftmax(const Napi::CallbackInfo& info);
  Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info);
  Napi::Value LogSoftmaxBackward(const Napi::CallbackInfo& info);
  Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info);
  Napi::Value softmaxCommon(const Napi::CallbackInfo& info, const char* fn, bool log);
  Napi::Value softmaxBackwardCommon(const Napi::CallbackInfo& info, const char* fn, bool log);

  // bind_reduce.cc
  Napi::Value Reduce(const Napi::CallbackInfo& info);
  Napi::Value MaxAxis(const Napi::CallbackInfo& info);
  Napi::Value Argmax(const Napi::CallbackInfo& info);
  Napi::Value BiasGrad(const Napi::CallbackInfo& info);

  // bind_movement.cc
  Napi::Value Permute(const Napi::CallbackInfo& info);
  Napi::Value Gather(const Napi::CallbackInfo& info);
  Napi::Value ScatterAdd(const Napi::CallbackInfo& info);

  // bind_optim.cc
  Napi::Value SgdStep(const Napi::CallbackInfo& info);
  Napi::Value AdamStep(const Napi::CallbackInfo& info);

  // bind_conv.cc
  Napi::Value Conv2d(const Napi::CallbackInfo& info);
  Napi::Value Conv2dBackwardInput(const Napi::CallbackInfo& info);
  Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info);

  // bind_sparse.cc
  Napi::Value SparseConv2d(const Napi::CallbackInfo& info);
  Napi::Value SparseConv2dBackwardInput(const Napi::CallbackInfo& info);
  Napi::Value SparseConv2dBackwardValues(const Napi::CallbackInfo& info);

  // bind_pool.cc
  Napi::Value MaxPool2d(const Napi::CallbackInfo& info);
  Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info);
  Napi::Value AvgPool2d(const Napi::CallbackInfo& info);
  Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info);

  // bind_batchnorm.cc
  Napi::Value BatchNormStats(const Napi::CallbackInfo& info);
  Napi::Value ChannelAffine(const Napi::CallbackInfo& info);

  // bind_rnn.cc
  Napi::Value RnnCellForward(const Napi::CallbackInfo& info);
  Napi::Value RnnCellBackward(const Napi::CallbackInfo& info);

  // bind_attention.cc
  Napi::Value AttentionForward(const Napi::CallbackInfo& info);
  Napi::Value AttentionBackward(const Napi::CallbackInfo& info);

  // The running table's kernels for one precision: k(t) inside withDType, or k<T>().
  template <typename T>
  const Kernels<T>& k() const {
    return kernelsOf<T>(ctx_.simd());
  }
  template <typename T>
  const Kernels<T>& k(TypeTag<T>) const {
    return kernelsOf<T>(ctx_.simd());
  }

  // Runs an elementwise kernel f(begin, end) over [0, n), split across the pool when long.
  template <typename F>
  void elementwise(size_t n, F&& f) {
    parallelChunks(ctx_.pool(), n, f);
  }

  AddonContext ctx_;
};

}  // namespace bp
