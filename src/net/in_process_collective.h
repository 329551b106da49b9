// Ranks that are threads of one process sharing host memory (the CPU backend run as N
// ranks in one process: tests, and one box split into shards). Each collective is two
// or three barrier phases over pointers the ranks post; every rank computes the sum
// itself in rank order, so all hold the same bits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "net/collective.h"

namespace tandem {

// The shared state of one group; create it once, then one InProcessCollective per rank.
class InProcessGroup {
 public:
  // A rank that waits longer than `timeout` for the others fails with an error instead
  // of hanging (a peer that died or took another path).
  explicit InProcessGroup(int size, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  int size() const { return size_; }
  // Makes every waiting and later collective fail (a rank hit an error and leaves).
  void Abort();
  // Clears an abort; only while no rank is inside a collective.
  void Reset();

 private:
  friend class InProcessCollective;
  // Waits until all ranks arrive at this phase.
  Status Arrive(int rank);

  const int size_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t phase_ = 0;
  bool aborted_ = false;
  std::vector<const void*> posted_;  // [size] each rank's buffer in the current collective
};

class InProcessCollective final : public Collective {
 public:
  InProcessCollective(std::shared_ptr<InProcessGroup> group, int rank);
  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }
  Status AllReduceSum(float* data, int64_t n) override;
  Status Broadcast(void* data, uint64_t bytes, int root) override;
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override;
  void Abort() override { group_->Abort(); }

 private:
  std::shared_ptr<InProcessGroup> group_;
  const int rank_;
  std::vector<float> sum_;  // [n] this rank's result before it overwrites its data
};

}  // namespace tandem
