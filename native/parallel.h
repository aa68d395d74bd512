// How kernels spread work over the pool: whole tasks (images, planes, channels) or chunks of a
// long array. Both run inline on the calling thread when there is too little work for a wake-up
// of the workers to pay off.
#pragma once

#include <algorithm>
#include <cstddef>

#include "thread_pool.h"

namespace bp {

// Runs task(i, thread) for i < count on the pool, inline (thread 0) when count * workPerTask
// (roughly the element operations of the whole call) is too small to share.
template <typename F>
void parallelFor(ThreadPool& pool, size_t count, size_t workPerTask, F&& task) {
  if (count <= 1 || pool.size() == 1 || count * workPerTask < 16384) {
    for (size_t i = 0; i < count; ++i) task(i, 0);
    return;
  }
  pool.run(count, [&](size_t i, int thread) { task(i, static_cast<size_t>(thread)); });
}

// Like parallelFor for reductions whose result must not depend on scheduling: [0, count) is cut
// into at most pool.size() contiguous parts, fixed by count, workPerTask and the thread count
// alone; part p runs its items in order on some thread t, as task(i, p, t). A caller that sums
// into one accumulator per part, then adds the parts in part order, gets bit-identical results
// run after run (parallelFor hands items to whichever thread is free, so per-thread sums vary).
template <typename F>
void parallelForParts(ThreadPool& pool, size_t count, size_t workPerTask, F&& task) {
  const size_t threads = static_cast<size_t>(pool.size());
  if (count <= 1 || threads == 1 || count * workPerTask < 16384) {
    for (size_t i = 0; i < count; ++i) task(i, size_t(0), size_t(0));
    return;
  }
  const size_t parts = std::min(threads, count);
  pool.run(parts, [&](size_t p, int thread) {
    for (size_t i = count * p / parts; i < count * (p + 1) / parts; ++i)
      task(i, p, static_cast<size_t>(thread));
  });
}

// Runs f(begin, end) over [0, n), split across the pool when the array is large enough for
// the threads to pay off (elementwise kernels past the L2 cache are memory-bound).
template <typename F>
void parallelChunks(ThreadPool& pool, size_t n, F&& f) {
  constexpr size_t kPerThread = size_t(1) << 16;
  const size_t threads = static_cast<size_t>(pool.size());
  if (threads <= 1 || n < 2 * kPerThread) {
    f(size_t(0), n);
    return;
  }
  const size_t parts = std::min(threads, n / kPerThread);
  const size_t chunk = ((n + parts - 1) / parts + 63) & ~size_t(63);  // whole vectors per part
  pool.run(parts, [&](size_t t, int) {
    const size_t begin = t * chunk;
    if (begin < n) f(begin, std::min(n, begin + chunk));
  });
}

}  // namespace bp
