// Helpers the two convolution paths (conv_im2col.cc, conv_direct.cc) share: per-thread
// workspace buffers and the bias gradient.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <vector>

#include "exec_context.h"

namespace bp {

inline size_t ceilDiv(size_t a, size_t b) { return (a + b - 1) / b; }

// Each thread of the pool gets up to kSlotsPerThread buffers of its own.
constexpr size_t kSlotsPerThread = 6;

// Per-thread buffers of one call, allocated (or found) before the parallel loop: slot[s][t] is
// buffer s of thread t.
template <typename T>
struct ThreadBuffers {
  std::vector<T*> slot[kSlotsPerThread];
};

// One buffer of each of `sizes` (element counts) per pool thread, from workspace slots base on.
template <typename T>
ThreadBuffers<T> threadBuffers(const ExecContext& ctx, size_t base,
                               std::initializer_list<size_t> sizes) {
  ThreadBuffers<T> b;
  const size_t threads = static_cast<size_t>(ctx.pool->size());
  size_t s = 0;
  for (size_t count : sizes) {
    for (size_t t = 0; t < threads; ++t)
      b.slot[s].push_back(ctx.ws->get<T>(base + t * kSlotsPerThread + s, count ? count : 1));
    ++s;
  }
  return b;
}

// The bias gradient of a convolution (row sums of gy over images and pixels): each part of a
// parallelForParts sums into its own double row, and finish() adds the rows in part order, so
// the result does not depend on which thread took which image. Does nothing when gb is null (no
// bias).
template <typename T>
class BiasGradSums {
 public:
  BiasGradSums(T* gb, size_t threads, size_t cOut)
      : gb_(gb), threads_(threads), cOut_(cOut), acc_(gb ? threads * cOut : 0, 0.0) {}

  // Adds the row sums of one image's gy (cOut rows of P pixels) on thread t.
  void add(size_t t, const T* gyi, size_t P) {
    if (!gb_) return;
    double* acc = acc_.data() + t * cOut_;
    for (size_t co = 0; co < cOut_; ++co) {
      const T* row = gyi + co * P;
      double s = 0;
      for (size_t p = 0; p < P; ++p) s += row[p];
      acc[co] += s;
    }
  }

  void finish() const {
    if (!gb_) return;
    for (size_t co = 0; co < cOut_; ++co) {
      double s = 0;
      for (size_t t = 0; t < threads_; ++t) s += acc_[t * cOut_ + co];
      gb_[co] = static_cast<T>(s);
    }
  }

 private:
  T* gb_;
  size_t threads_, cOut_;
  std::vector<double> acc_;
};

}  // namespace bp
