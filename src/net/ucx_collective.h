// Ranks in separate processes — one machine over shared memory or TCP loopback, or
// several over TCP/RDMA — exchanging host memory through UCX (the CPU backend's
// multi-process collective). Latency first, for 2–3 ranks and messages of a few KB:
// every collective is one round of direct messages (an all-reduce sends each rank's
// buffer to every other; each then sums all buffers in rank order itself, so all hold
// the same bits), and the caller busy-polls until its own result is ready.
//
// Bootstrap, in two phases because the addresses travel through the coordinator:
//   auto worker = UcxWorker::Create(options);           // every rank
//   ... publish worker->address(), collect every rank's in rank order ...
//   auto group = UcxCollective::Connect(std::move(worker), rank, addresses);
//
// One thread drives a rank's collectives. A peer that dies or stops answering fails
// the current collective within UcxOptions::timeout, naming the rank; the group is
// then broken (every later call fails at once) and must be rebuilt with new workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "net/collective.h"
#include "net/ucx_worker.h"

namespace tandem {

class UcxEndpoints;
class UcxTransfers;

class UcxCollective final : public Collective {
 public:
  // Phase two: endpoints from `rank` to every other rank, then a two-round wire-up
  // (hello, ready) so that a Connect that returns means every rank of the group reached
  // every other. addresses: every rank's UcxWorker::address() in rank order (this
  // rank's included). Fails within worker's timeout naming a rank that does not answer.
  static Expected<std::unique_ptr<UcxCollective>> Connect(std::unique_ptr<UcxWorker> worker, int rank,
                                                          std::span<const std::vector<uint8_t>> addresses);
  ~UcxCollective() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Status AllReduceSum(float* data, int64_t n) override;
  Status Broadcast(void* data, uint64_t bytes, int root) override;
  // Waits as long as it takes (Abort, or a peer's lost connection on tcp, ends it).
  Status AwaitBroadcast(void* data, uint64_t bytes, int root) override;
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override;
  void Abort() override { aborted_ = true; }
  // Ok until a call failed (the group is then broken for good). The calling thread's.
  Status health() override { return broken_; }

 private:
  UcxCollective(std::unique_ptr<UcxWorker> worker, std::unique_ptr<UcxEndpoints> endpoints, int rank, int size);
  Status WireUp();
  // Fails a call unless the group is healthy; otherwise numbers the next collective.
  Status Begin(uint64_t& sequence);
  // Waits for the posted messages; on failure breaks the group (see Break).
  Status Finish(std::string_view what, uint64_t sequence);
  Status Finish(std::string_view what, uint64_t sequence, std::chrono::milliseconds timeout);
  Status BroadcastWithin(void* data, uint64_t bytes, int root, std::chrono::milliseconds timeout);
  // Records the error, drops everything in flight and force-closes the endpoints.
  Status Break(Status error);

  std::unique_ptr<UcxWorker> worker_;  // outlives the endpoints and transfers
  std::unique_ptr<UcxEndpoints> endpoints_;
  std::unique_ptr<UcxTransfers> transfers_;
  const int rank_;
  const int size_;
  uint64_t next_sequence_ = 0;
  Status broken_;                           // ok while the group works
  std::atomic<bool> aborted_{false};        // set by Abort, from any thread
  std::vector<std::vector<float>> inputs_;  // [size][n] peers' all-reduce inputs; grows, never shrinks
};

}  // namespace tandem
