#include "net/nccl_host_group.h"

#include "kernels/cuda/device_memory.h"

namespace tandem {

NcclHostGroup::NcclHostGroup(std::unique_ptr<NcclCollective> device, std::unique_ptr<Collective> host)
    : device_(std::move(device)),
      host_(std::move(host)),
      watchdog_(std::make_unique<NcclWatchdog>(*device_, std::chrono::milliseconds(5))) {}

NcclHostGroup::~NcclHostGroup() {
  watchdog_.reset();
  // A group that broke on either side has a dead or lost peer: NCCL's orderly flush would
  // wait for it, so the communicator is aborted instead.
  if (!health().ok()) device_->Abort();
}

Status NcclHostGroup::BreakOnError(Status st) {
  if (!st.ok()) Abort();  // one side failed: the group as a whole is broken
  return st;
}

Status NcclHostGroup::AllReduceSum(float* data, int64_t n) {
  return BreakOnError(IsDeviceMemory(data) ? device_->AllReduceSum(data, n) : host_->AllReduceSum(data, n));
}

Status NcclHostGroup::StartAllReduceSum(float* data, int64_t n) {
  return BreakOnError(IsDeviceMemory(data) ? device_->StartAllReduceSum(data, n) : host_->AllReduceSum(data, n));
}

// A no-op when the last Start was a host buffer's (nothing is pending on NCCL's side).
Status NcclHostGroup::FinishAllReduceSum() { return BreakOnError(device_->FinishAllReduceSum()); }

Status NcclHostGroup::Broadcast(void* data, uint64_t bytes, int root) {
  return BreakOnError(IsDeviceMemory(data) ? device_->Broadcast(data, bytes, root)
                                           : host_->Broadcast(data, bytes, root));
}

Status NcclHostGroup::AwaitBroadcast(void* data, uint64_t bytes, int root) {
  return BreakOnError(IsDeviceMemory(data) ? device_->Broadcast(data, bytes, root)
                                           : host_->AwaitBroadcast(data, bytes, root));
}

// Every rank passes a buffer of the same kind (the engine's workspace, or the rank loop's
// host vectors), so each picks the same side by its send buffer.
Status NcclHostGroup::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  return BreakOnError(IsDeviceMemory(send) ? device_->Gather(send, counts, recv, root)
                                           : host_->Gather(send, counts, recv, root));
}

void NcclHostGroup::Abort() {
  device_->Abort();
  host_->Abort();
}

Status NcclHostGroup::health() {
  TANDEM_TRY(device_->broken());  // the watchdog polls NCCL's own error
  return host_->health();
}

}  // namespace tandem
