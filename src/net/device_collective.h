// Ranks that are threads of one process, each with its own CUDA stream, exchanging
// device memory: the CUDA backend run as N ranks in one process (`tandem run --ranks N
// --backend cuda`, the GPU sharding tests). It meets on an InProcessGroup like the host
// collective (net/in_process_group.h): every rank posts its buffer's device address, and
// every rank sums all ranks' buffers itself, in rank order, with one kernel
// (kernels/cuda/sum_ranks.h), so all hold the same bits — the bits of the host
// collectives' in-order sums.
//
// Host-synchronous: each call first waits for the rank's stream (its earlier kernels
// wrote the buffer), and waits for its own copies and sums before the next barrier.
// Slower than NCCL (two barriers and two stream waits per all-reduce), no CUDA-graph
// capture; for tests and one-box sharding, not for speed.
//
// Memory: AllReduceSum takes device memory. Broadcast and Gather take host or device
// memory (the rank loop broadcasts requests and tokens and the sampler gathers slice
// summaries from host memory), copied with cudaMemcpyDefault, or memcpy when both ends
// are host memory.
//
// Every rank's buffers are on one device, `device`: the sum kernel reads the other
// ranks' buffers directly, which across GPUs would need peer access, not set up here
// (ranks on several GPUs use NcclCollective, net/nccl_collective.h).
//
// A rank whose CUDA call fails inside a collective aborts the group, so the ranks
// waiting for it fail at once instead of after the group's timeout.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <memory>
#include <vector>

#include "net/collective.h"
#include "net/in_process_group.h"

namespace tandem {

class DeviceInProcessCollective final : public Collective {
 public:
  // Rank `rank` of `group`; `stream` (not owned) orders the rank's kernels on `device`
  // and must outlive the collective (an Engine drops its collective before its backend).
  DeviceInProcessCollective(std::shared_ptr<InProcessGroup> group, int rank, int device, cudaStream_t stream);
  ~DeviceInProcessCollective() override;
  DeviceInProcessCollective(const DeviceInProcessCollective&) = delete;
  DeviceInProcessCollective& operator=(const DeviceInProcessCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }
  // data: device f32 [n]. Returns with the sum's copy into data queued on the stream.
  Status AllReduceSum(float* data, int64_t n) override;
  // data: host or device memory; returns with it copied.
  Status Broadcast(void* data, uint64_t bytes, int root) override;
  // send, recv: host or device memory; returns with root's recv filled.
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override;
  void Abort() override { group_->Abort(); }

 private:
  // Runs one collective's steps; a failure aborts the group (the others may be waiting).
  Status AbortOnError(const std::function<Status()>& steps);
  // Makes the rank's device current on this thread and waits for its stream.
  Status Ready();
  // dst <- src, `bytes` bytes, either end host or device memory: done on return when
  // both are host memory, else queued on the stream (wait for it before the next barrier).
  Status QueueCopy(void* dst, const void* src, uint64_t bytes);
  // This rank's sum buffer, at least n floats.
  Expected<float*> Scratch(int64_t n);

  std::shared_ptr<InProcessGroup> group_;
  const int rank_;
  const int device_;
  cudaStream_t stream_;
  float* scratch_ = nullptr;  // device f32 [scratch_floats_]: this rank's sum before it overwrites data
  int64_t scratch_floats_ = 0;
  std::vector<const float*> inputs_;  // [size] every rank's posted buffer in rank order
};

}  // namespace tandem
