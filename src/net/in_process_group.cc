#include "net/in_process_group.h"

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

}  // namespace tandem
