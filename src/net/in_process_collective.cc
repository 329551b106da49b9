#include "net/in_process_collective.h"

#include <algorithm>
#include <cstring>

namespace tandem {

InProcessCollective::InProcessCollective(std::shared_ptr<InProcessGroup> group, int rank)
    : group_(std::move(group)), rank_(rank) {}

Status InProcessCollective::AllReduceSum(float* data, int64_t n) {
  group_->Post(rank_, data);
  TANDEM_TRY(group_->Arrive(rank_));
  sum_.assign(static_cast<size_t>(n), 0.0f);
  for (int r = 0; r < group_->size(); ++r) {
    const auto* src = static_cast<const float*>(group_->posted(r));
    for (int64_t i = 0; i < n; ++i) sum_[i] += src[i];
  }
  TANDEM_TRY(group_->Arrive(rank_));  // every rank has read every input
  std::copy(sum_.begin(), sum_.end(), data);
  return Status::Ok();
}

Status InProcessCollective::Broadcast(void* data, uint64_t bytes, int root) {
  group_->Post(rank_, data);
  TANDEM_TRY(group_->Arrive(rank_));
  if (rank_ != root) std::memcpy(data, group_->posted(root), bytes);
  return group_->Arrive(rank_);  // root's buffer is free again
}

Status InProcessCollective::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  if (static_cast<int>(counts.size()) != group_->size()) {
    return Status::Error("gather: {} counts for a group of {} ranks", counts.size(), group_->size());
  }
  group_->Post(rank_, send);
  TANDEM_TRY(group_->Arrive(rank_));
  if (rank_ == root) {
    for (int r = 0; r < group_->size(); ++r) {
      recv = std::copy_n(static_cast<const float*>(group_->posted(r)), counts[r], recv);
    }
  }
  return group_->Arrive(rank_);
}

}  // namespace tandem
