// A small persistent pool of worker threads, one per addon instance (JS environment). The
// calling thread takes part in every job; workers sleep on a condition variable in between.
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
  void run(size_t tasks, const Task& task);

 private:
  void workerLoop(int thread);
  void drain(const Task& task, size_t tasks, int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const Task* task_ = nullptr;
  size_t tasks_ = 0;
  std::atomic<size_t> next_{0};
  size_t checkedIn_ = 0;     // workers done with the current generation; guarded by mutex_
  size_t generation_ = 0;    // guarded by mutex_
  bool stop_ = false;        // guarded by mutex_
};

}  // namespace bp
