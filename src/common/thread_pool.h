// A fixed pool of worker threads for data-parallel loops over an index range.
// ParallelFor splits [0, n) into at most size() contiguous chunks, runs them on the
// calling thread plus the workers, and returns when all are done. One ParallelFor runs
// at a time (concurrent callers wait their turn); a task must not call ParallelFor on
// the same pool (it would deadlock).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem {

class ThreadPool {
 public:
  using Task = std::function<void(int64_t begin, int64_t end)>;

  // n_threads counts the calling thread; 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over disjoint chunks covering [0, n); blocks until done.
  void ParallelFor(int64_t n, const Task& fn);

 private:
  void WorkerLoop(int chunk);
  void RunChunk(int chunk) const;

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // serialises ParallelFor calls
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  uint64_t generation_ = 0;  // bumped per ParallelFor that wakes the workers
  int pending_ = 0;          // workers yet to finish the current generation
  bool stop_ = false;
  const Task* fn_ = nullptr;
  int64_t n_ = 0;
  int n_chunks_ = 0;
};

}  // namespace tandem
