// A collective whose rank and size are known before its connections are: a worker loads
// its shard (which needs both) first, and joins the group only when every rank is loaded.
// Calls before Attach fail with an error; afterwards they go to the attached collective.
// A group that broke can be replaced (Attach again) while the shard stays loaded; the
// owner then makes the engine forget the decode steps it recorded with the old group's
// calls (Engine::ForgetRecordedSteps).
#pragma once

#include <memory>

#include "net/collective.h"

namespace tandem {

class DeferredCollective final : public Collective {
 public:
  DeferredCollective(int rank, int size) : rank_(rank), size_(size) {}

  // `group` must have this rank and size; it replaces an earlier one. Not while a call runs.
  Status Attach(std::unique_ptr<Collective> group);
  // Drops the group (its connections close); later calls fail until the next Attach.
  void Detach() { group_.reset(); }
  bool attached() const { return group_ != nullptr; }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Status AllReduceSum(float* data, int64_t n) override;
  Status StartAllReduceSum(float* data, int64_t n) override;
  Status FinishAllReduceSum() override;
  Status Broadcast(void* data, uint64_t bytes, int root) override;
  Status AwaitBroadcast(void* data, uint64_t bytes, int root) override;
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override;
  void Abort() override;
  // The attached group's (an unattached one is not capturable, and its calls fail).
  bool capturable() const override { return group_ && group_->capturable(); }
  bool overlaps() const override { return group_ && group_->overlaps(); }
  Status health() override { return group_ ? group_->health() : Status::Ok(); }

 private:
  Status NotAttached() const;

  const int rank_, size_;
  std::unique_ptr<Collective> group_;
};

}  // namespace tandem
