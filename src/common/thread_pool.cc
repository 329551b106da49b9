#include "common/thread_pool.h"

#include <algorithm>

namespace tandem {

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  workers_.reserve(n_threads - 1);
  for (int chunk = 1; chunk < n_threads; ++chunk) workers_.emplace_back([this, chunk] { WorkerLoop(chunk); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunChunk(int chunk) const {
  if (chunk >= n_chunks_) return;
  const int64_t begin = n_ * chunk / n_chunks_;
  const int64_t end = n_ * (chunk + 1) / n_chunks_;
  (*fn_)(begin, end);
}

void ThreadPool::WorkerLoop(int chunk) {
  uint64_t seen = 0;
  while (true) {
    {
      std::unique_lock lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    RunChunk(chunk);
    {
      std::lock_guard lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(int64_t n, const Task& fn) {
  if (n <= 0) return;
  const int n_chunks = static_cast<int>(std::min<int64_t>(n, size()));
  if (n_chunks == 1) {
    fn(0, n);
    return;
  }
  std::lock_guard call_lock(call_mu_);
  {
    std::lock_guard lock(mu_);
    fn_ = &fn;
    n_ = n;
    n_chunks_ = n_chunks;
    pending_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  start_cv_.notify_all();
  RunChunk(0);
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return pending_ == 0; });
  fn_ = nullptr;
}

}  // namespace tandem
