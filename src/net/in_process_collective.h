// Ranks that are threads of one process sharing host memory (the CPU backend run as N
// ranks in one process: tests, and one box split into shards). Each collective is two
// barrier phases of an InProcessGroup (net/in_process_group.h) over pointers the ranks
// post; every rank computes the sum itself in rank order, so all hold the same bits.
#pragma once

#include <memory>
#include <vector>

#include "net/collective.h"
#include "net/in_process_group.h"

namespace tandem {

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
