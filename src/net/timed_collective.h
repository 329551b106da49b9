// A collective that times the one it wraps: calls and seconds spent inside them on this
// rank (waiting for slower ranks included), for benchmarks' comm time per token. For a
// stream-ordered collective (NCCL) the time is the enqueue's, not the transfer's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "net/collective.h"

namespace tandem {

struct CollectiveTime {
  int64_t calls = 0;
  double seconds = 0;
};

class TimedCollective final : public Collective {
 public:
  explicit TimedCollective(std::unique_ptr<Collective> inner) : inner_(std::move(inner)) {}

  CollectiveTime time() const { return time_; }

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  Status AllReduceSum(float* data, int64_t n) override;
  Status StartAllReduceSum(float* data, int64_t n) override;
  Status FinishAllReduceSum() override;
  Status Broadcast(void* data, uint64_t bytes, int root) override;
  // Idle time, not communication: neither counted nor timed.
  Status AwaitBroadcast(void* data, uint64_t bytes, int root) override {
    return inner_->AwaitBroadcast(data, bytes, root);
  }
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override;
  void Abort() override { inner_->Abort(); }
  // Replayed steps skip the calls, so they are neither counted nor timed.
  bool capturable() const override { return inner_->capturable(); }
  bool overlaps() const override { return inner_->overlaps(); }
  Status health() override { return inner_->health(); }

 private:
  // calls: 0 for the second half of a call timed already (FinishAllReduceSum).
  template <typename Call>
  Status Timed(Call call, int64_t calls = 1) {
    const auto start = std::chrono::steady_clock::now();
    Status st = call();
    time_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    time_.calls += calls;
    return st;
  }

  std::unique_ptr<Collective> inner_;
  CollectiveTime time_;
};

}  // namespace tandem
