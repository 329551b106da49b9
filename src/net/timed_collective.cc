#include "net/timed_collective.h"

namespace tandem {

Status TimedCollective::AllReduceSum(float* data, int64_t n) {
  return Timed([&] { return inner_->AllReduceSum(data, n); });
}

// One call: issuing and finishing it both count towards its time.
Status TimedCollective::StartAllReduceSum(float* data, int64_t n) {
  return Timed([&] { return inner_->StartAllReduceSum(data, n); });
}

Status TimedCollective::FinishAllReduceSum() {
  return Timed([&] { return inner_->FinishAllReduceSum(); }, /*calls=*/0);
}

Status TimedCollective::Broadcast(void* data, uint64_t bytes, int root) {
  return Timed([&] { return inner_->Broadcast(data, bytes, root); });
}

Status TimedCollective::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  return Timed([&] { return inner_->Gather(send, counts, recv, root); });
}

}  // namespace tandem
