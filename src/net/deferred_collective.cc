#include "net/deferred_collective.h"

namespace tandem {

Status DeferredCollective::Attach(std::unique_ptr<Collective> group) {
  if (group->rank() != rank_ || group->size() != size_) {
    return Status::Error("rank {} of {} cannot take the place of rank {} of {}", group->rank(), group->size(), rank_,
                         size_);
  }
  group_ = std::move(group);
  return Status::Ok();
}

void DeferredCollective::Abort() {
  if (group_) group_->Abort();
}

Status DeferredCollective::NotAttached() const {
  return Status::Error("rank {} of {} has not joined its group yet", rank_, size_);
}

Status DeferredCollective::AllReduceSum(float* data, int64_t n) {
  return group_ ? group_->AllReduceSum(data, n) : NotAttached();
}

Status DeferredCollective::StartAllReduceSum(float* data, int64_t n) {
  return group_ ? group_->StartAllReduceSum(data, n) : NotAttached();
}

Status DeferredCollective::FinishAllReduceSum() { return group_ ? group_->FinishAllReduceSum() : NotAttached(); }

Status DeferredCollective::Broadcast(void* data, uint64_t bytes, int root) {
  return group_ ? group_->Broadcast(data, bytes, root) : NotAttached();
}

Status DeferredCollective::AwaitBroadcast(void* data, uint64_t bytes, int root) {
  return group_ ? group_->AwaitBroadcast(data, bytes, root) : NotAttached();
}

Status DeferredCollective::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  return group_ ? group_->Gather(send, counts, recv, root) : NotAttached();
}

}  // namespace tandem
