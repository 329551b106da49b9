#include "net/in_process_collective.h"

#include <algorithm>
#include <cstring>

namespace tandem {

InProcessGroup::InProcessGroup(int size, std::chrono::milliseconds timeout)
    : size_(size), timeout_(timeout), posted_(static_cast<size_t>(size), nullptr) {}

void InProcessGroup::Abort() {
  std::lock_guard lock(mu_);
  aborted_ = true;
  cv_.notify_all();
}

void InProcessGroup::Reset() {
  std::lock_guard lock(mu_);
  aborted_ = false;
  arrived_ = 0;
}

Status InProcessGroup::Arrive(int rank) {
  std::unique_lock lock(mu_);
  if (aborted_) return Status::Error("rank {}: the in-process group was aborted by another rank", rank);
  const uint64_t phase = phase_;
  if (++arrived_ == size_) {
    arrived_ = 0;
    ++phase_;
    cv_.notify_all();
    return Status::Ok();
  }
  if (!cv_.wait_for(lock, timeout_, [&] { return phase_ != phase || aborted_; })) {
    aborted_ = true;
    cv_.notify_all();
    return Status::Error("rank {}: waited {} ms for the other ranks of the in-process group", rank, timeout_.count());
  }
  if (phase_ == phase) return Status::Error("rank {}: the in-process group was aborted by another rank", rank);
  return Status::Ok();
}

InProcessCollective::InProcessCollective(std::shared_ptr<InProcessGroup> group, int rank)
    : group_(std::move(group)), rank_(rank) {}

Status InProcessCollective::AllReduceSum(float* data, int64_t n) {
  group_->posted_[rank_] = data;
  TANDEM_TRY(group_->Arrive(rank_));
  sum_.assign(static_cast<size_t>(n), 0.0f);
  for (int r = 0; r < group_->size(); ++r) {
    const auto* src = static_cast<const float*>(group_->posted_[r]);
    for (int64_t i = 0; i < n; ++i) sum_[i] += src[i];
  }
  TANDEM_TRY(group_->Arrive(rank_));  // every rank has read every input
  std::copy(sum_.begin(), sum_.end(), data);
  return Status::Ok();
}

Status InProcessCollective::Broadcast(void* data, uint64_t bytes, int root) {
  group_->posted_[rank_] = data;
  TANDEM_TRY(group_->Arrive(rank_));
  if (rank_ != root) std::memcpy(data, group_->posted_[root], bytes);
  return group_->Arrive(rank_);  // root's buffer is free again
}

Status InProcessCollective::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  if (static_cast<int>(counts.size()) != group_->size()) {
    return Status::Error("gather: {} counts for a group of {} ranks", counts.size(), group_->size());
  }
  group_->posted_[rank_] = send;
  TANDEM_TRY(group_->Arrive(rank_));
  if (rank_ == root) {
    for (int r = 0; r < group_->size(); ++r) {
      recv = std::copy_n(static_cast<const float*>(group_->posted_[r]), counts[r], recv);
    }
  }
  return group_->Arrive(rank_);
}

}  // namespace tandem
