#include "thread_pool.h"

namespace bp {

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::drain(const Task& task, size_t tasks, int thread) {
  for (;;) {
    const size_t i = next_.fetch_add(1);
    if (i >= tasks) break;
    task(i, thread);
  }
}

// Every worker takes part in every generation and checks in when it is done, so run() returns
// only once no worker can still touch this generation's task.
void ThreadPool::workerLoop(int thread) {
  size_t seen = 0;
  for (;;) {
    const Task* task;
    size_t tasks;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      task = task_;
      tasks = tasks_;
    }
    drain(*task, tasks, thread);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (++checkedIn_ == workers_.size()) done_.notify_all();
    }
  }
}

void ThreadPool::run(size_t tasks, const Task& task) {
  if (tasks == 0) return;
  if (workers_.empty() || tasks == 1) {
    for (size_t i = 0; i < tasks; ++i) task(i, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    tasks_ = tasks;
    checkedIn_ = 0;
    next_.store(0);
    ++generation_;
  }
  wake_.notify_all();
  drain(task, tasks, 0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return checkedIn_ == workers_.size(); });
  task_ = nullptr;
}

}  // namespace bp
