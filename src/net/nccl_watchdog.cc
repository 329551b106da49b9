#include "net/nccl_watchdog.h"

namespace tandem {

NcclWatchdog::NcclWatchdog(NcclCollective& group, std::chrono::microseconds poll)
    : group_(group), poll_(poll), thread_([this] { Watch(); }) {}

NcclWatchdog::~NcclWatchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void NcclWatchdog::Arm(std::chrono::milliseconds budget) {
  std::lock_guard lock(mu_);
  budget_ = budget;
  deadline_ = std::chrono::steady_clock::now() + budget;
}

void NcclWatchdog::Disarm() {
  std::lock_guard lock(mu_);
  deadline_.reset();
}

Status NcclWatchdog::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

void NcclWatchdog::Watch() {
  std::unique_lock lock(mu_);
  while (!stop_ && failure_.ok()) {
    wake_.wait_for(lock, poll_, [this] { return stop_; });
    if (stop_) break;
    const bool late = deadline_.has_value() && std::chrono::steady_clock::now() > *deadline_;
    const auto budget = budget_;
    // The group's calls take their own lock: never hold ours meanwhile, so Arm and
    // Disarm stay instant for the engine thread.
    lock.unlock();
    Status st = group_.CheckHealth();  // aborts the group itself on an NCCL error
    if (st.ok() && late) {
      st = Status::Unavailable("NCCL group rank {} of {}: the step did not finish within {} ms (a peer died or hangs); "
                               "the watchdog aborted the communicator",
                               group_.rank(), group_.size(), budget.count());
      group_.AbortWith(st);
    }
    lock.lock();
    if (!st.ok()) failure_ = st;
  }
}

}  // namespace tandem
