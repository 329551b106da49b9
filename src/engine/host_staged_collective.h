// A collective over host memory (UCX between boxes) serving a backend whose buffers live in
// device memory: each call whose buffer is the backend's is staged through host memory
// (Download, the host collective, Upload); host buffers (the rank loop's requests, tokens
// and sampling summaries) go straight through. What lets GPU ranks on several boxes run
// without NCCL: host-synchronous like the inner collective (no CUDA-graph capture), about
// two copies' latency more per call.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "net/collective.h"

namespace tandem {

class HostStagedCollective final : public Collective {
 public:
  // in_backend_memory(p): whether p points into `backend`'s memory (then staged). `backend`
  // must outlive the collective (an Engine drops its collective before its backend).
  HostStagedCollective(std::unique_ptr<Collective> host, Backend& backend,
                       std::function<bool(const void*)> in_backend_memory);

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  Status AllReduceSum(float* data, int64_t n) override;
  Status Broadcast(void* data, uint64_t bytes, int root) override;
  Status AwaitBroadcast(void* data, uint64_t bytes, int root) override;
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override;
  void Abort() override { host_->Abort(); }
  Status health() override { return host_->health(); }

 private:
  std::unique_ptr<Collective> host_;
  Backend& backend_;
  std::function<bool(const void*)> in_backend_memory_;
  std::vector<uint8_t> staged_;       // a staged buffer's host copy
  std::vector<float> staged_recv_;    // Gather's receive side
};

}  // namespace tandem
