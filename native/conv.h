// Convolution (im2col/col2im + GEMM), max/avg pooling and batch-norm statistics, exposed as the
// Backend kernels conv2d, conv2dBackwardInput, conv2dBackwardWeight, maxPool2d,
// maxPool2dBackward, avgPool2d, avgPool2dBackward, batchNormStats and channelAffine.
//
// The bindings are plain functions registered by the addon with, as data, the address of a
// ConvContext it owns: through it they use the addon's current SIMD table (its register-tiled
// GEMM micro-kernel) and thread pool, and keep their packing buffers between calls (grown on
// demand, so a training loop allocates none after its first step).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

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
    // 64 bytes of slack so that the buffer can start on a cache line.
    const size_t words = (count * sizeof(T) + sizeof(double) - 1) / sizeof(double) + 8;
    if (buf.size() < words) buf.resize(words);
    const auto addr = reinterpret_cast<uintptr_t>(buf.data());
    return reinterpret_cast<T*>(reinterpret_cast<unsigned char*>(buf.data()) + ((64 - (addr & 63)) & 63));
  }

 private:
  std::vector<std::vector<double>> slots_;
};

// What the conv bindings borrow from the addon instance: its SIMD table (for the GEMM
// micro-kernel) and its thread pool. The pointers follow the addon's switches (_setSimd;
// setNumThreads replaces the pool).
struct ConvContext {
  const KernelTable* const* simd;
  const std::unique_ptr<ThreadPool>* pool;
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
