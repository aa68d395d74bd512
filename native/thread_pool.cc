#include "thread_pool.h"

#include <chrono>
#include <thread>

namespace bp {

namespace {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() or until `micros` have passed; returns done(). After a short busy spin it
// yields the CPU on every round: when the machine is oversubscribed, the thread we wait for may
// need this very core, and a busy spin would only delay it.
template <typename F>
bool spinFor(int micros, F done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (int i = 0;; ++i) {
    if (done()) return true;
    if (i < 256) {
      cpuRelax();
    } else {
      std::this_thread::yield();
      if (std::chrono::steady_clock::now() > until) return done();
    }
  }
}

// Workers, between jobs. Long enough to span the single-threaded kernels and the JS between
// two GEMMs of a training step (a 784-512-256-10 MLP step: ~4% faster than with 50 us, as a
// sleeping worker's futex wake-up costs tens of microseconds); the spin yields, so an idle
// worker does not hold a core that another thread wants.
constexpr int kIdleSpinMicros = 500;
constexpr int kJoinSpinMicros = 500;  // the caller, waiting for the workers' share

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
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

void ThreadPool::workerLoop(int thread) {
  size_t seen = 0;
  for (;;) {
    auto ready = [&] {
      return stop_.load() || generation_.load(std::memory_order_acquire) != seen;
    };
    if (!spinFor(kIdleSpinMicros, ready)) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, ready);
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    // Enter, then look whether the job is still open: a worker that arrives after the caller
    // has finished every task and closed the job leaves without touching it (the caller's
    // close and this enter are seq_cst, so one of the two sees the other).
    active_.fetch_add(1);
    if (open_.load() && generation_.load() == seen) drain(*task_, tasks_, thread);
    if (active_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with the caller's predicate check
      done_.notify_all();
    }
  }
}

void ThreadPool::run(size_t tasks, const Task& task) {
  if (tasks == 0) return;
  if (workers_.empty() || tasks == 1) {
    for (size_t i = 0; i < tasks; ++i) task(i, 0);
    return;
  }
  task_ = &task;
  tasks_ = tasks;
  next_.store(0);
  {
    // Under the lock, so that a worker between its predicate check and its wait cannot miss it.
    std::lock_guard<std::mutex> lock(mutex_);
    open_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  drain(task, tasks, 0);
  // Every task is taken: close the job and wait only for the workers inside it. A worker the OS
  // has not scheduled yet (an oversubscribed machine) no longer holds up the caller: waiting
  // for every worker to check in cost a scheduler time slice per job there, and a GEMM runs
  // several jobs per call (measured: 2-thread training step of the 784-512-256-10 MLP 20x
  // slower than 1 thread at a load average of 15 on 2 cores).
  open_.store(false);
  auto idle = [&] { return active_.load() == 0; };
  if (!spinFor(kJoinSpinMicros, idle)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, idle);
  }
  task_ = nullptr;
}

}  // namespace bp
