// The collective of GPU ranks joined by NCCL (`serve --nodes` with --backend cuda, or a
// LocalCluster with a GPU per rank): each call goes by where its buffer lives. Device
// buffers (the step's activations, the vocabulary slices' logits) go through NCCL on the
// backend's stream, so a decode step with its collectives is recorded into one CUDA
// graph; host buffers (the rank loop's requests, tokens and sampling summaries) go
// through the group's host collective: UCX between boxes, which also carries its control
// messages, or in-process threads.
//
// A watchdog polls NCCL's asynchronous error: when a peer's connection closes (it died)
// the communicator is aborted at once, its kernels stop waiting on the GPU and health()
// says why. A peer that hangs without closing anything is caught by the heartbeats
// instead: the coordinator, or a worker that lost it, calls Abort.
#pragma once

#include <memory>

#include "net/collective.h"
#include "net/nccl_collective.h"
#include "net/nccl_watchdog.h"

namespace tandem {

class NcclHostGroup final : public Collective {
 public:
  // `device` and `host`: the same rank of the same group.
  NcclHostGroup(std::unique_ptr<NcclCollective> device, std::unique_ptr<Collective> host);
  ~NcclHostGroup() override;

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  Status AllReduceSum(float* data, int64_t n) override;
  // Device buffers: NCCL's, on its side stream; host buffers: finished at Start.
  Status StartAllReduceSum(float* data, int64_t n) override;
  Status FinishAllReduceSum() override;
  bool overlaps() const override { return true; }
  Status Broadcast(void* data, uint64_t bytes, int root) override;
  Status AwaitBroadcast(void* data, uint64_t bytes, int root) override;
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override;
  void Abort() override;
  // The device calls are only enqueued: a step records into a CUDA graph.
  bool capturable() const override { return true; }
  Status health() override;

 private:
  // `st`, after aborting both sides when it failed.
  Status BreakOnError(Status st);

  std::unique_ptr<NcclCollective> device_;
  std::unique_ptr<Collective> host_;
  std::unique_ptr<NcclWatchdog> watchdog_;  // destroyed first: it watches device_
};

}  // namespace tandem
