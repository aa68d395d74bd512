// A small persistent pool of worker threads, one per addon instance (JS environment). The
// calling thread takes part in every job. Between jobs the workers spin (yielding) for up to half a
// millisecond before sleeping on a condition variable: a GEMM issues several jobs back to back
// (pack, compute, per panel), and a futex wake-up per job would cost as much as the job.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bp {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Total threads, including the caller.
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Task callback: (task index, thread index in [0, size())).
  typedef std::function<void(size_t, int)> Task;
  // Runs task(i, thread) for i in [0, tasks), spread over the pool; returns when all are done.
  // Not reentrant: one job at a time (the owning JS thread's).
  void run(size_t tasks, const Task& task);

 private:
  void workerLoop(int thread);
  void drain(const Task& task, size_t tasks, int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // The job: written by run() before generation_ is bumped (release), read by workers after
  // they see the new generation (acquire).
  const Task* task_ = nullptr;
  size_t tasks_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> generation_{0};
  // Whether the current job still takes workers, and how many are inside a job: run() closes
  // the job once every task is taken and returns when no worker is inside it, so no worker can
  // touch a finished job, and none that is late holds the caller up.
  std::atomic<bool> open_{false};
  std::atomic<size_t> active_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace bp
