// Convolution (im2col/col2im + GEMM), max/avg pooling and batch-norm statistics, exposed as the
// Backend kernels conv2d, conv2dBackwardInput, conv2dBackwardWeight, maxPool2d,
// maxPool2dBackward, avgPool2d, avgPool2dBackward, batchNormStats and channelAffine.
//
// The bindings are plain functions registered by the addon with, as data, the address of a
// ConvContext it owns: through it they use the addon's current GEMM (OpenBLAS or built-in),
// SIMD table and thread pool, and keep their column buffers between calls (grown on demand, so
// a training loop allocates nothing after its first step).
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "gemm.h"
#include "kernels.h"
#include "thread_pool.h"

namespace bp {

// Column and transpose buffers of one addon instance (one JS thread at a time).
class ConvWorkspace {
 public:
  // A buffer of at least `count` elements of T in slot `slot`, kept for later calls.
  template <typename T>
  T* get(size_t slot, size_t count) {
    if (slots_.size() <= slot) slots_.resize(slot + 1);
    auto& buf = slots_[slot];
    const size_t words = (count * sizeof(T) + sizeof(double) - 1) / sizeof(double);
    if (buf.size() < words) buf.resize(words);
    return reinterpret_cast<T*>(buf.data());
  }

 private:
  std::vector<std::vector<double>> slots_;
};

// What the conv bindings borrow from the addon instance. The pointers follow the addon's
// switches (_setSimd, _setBlas, setNumThreads replaces the pool).
struct ConvContext {
  const KernelTable* const* simd;
  const bool* useBlas;
  const std::unique_ptr<ThreadPool>* pool;
  GemmWorkspace* gemmWorkspace;
  ConvWorkspace workspace;
};

// info.Data() must be a ConvContext* owned by the addon instance.
Napi::Value Conv2d(const Napi::CallbackInfo& info);
Napi::Value Conv2dBackwardInput(const Napi::CallbackInfo& info);
Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info);
Napi::Value MaxPool2d(const Napi::CallbackInfo& info);
Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info);
Napi::Value AvgPool2d(const Napi::CallbackInfo& info);
Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info);
Napi::Value BatchNormStats(const Napi::CallbackInfo& info);
Napi::Value ChannelAffine(const Napi::CallbackInfo& info);

}  // namespace bp
