// Ranks on GPUs exchanging device memory through NCCL (the CUDA backend's collective).
// Every call is asynchronous: it enqueues NCCL's kernels on the stream the backend owns
// (given at Connect) and returns; the result is ready when that stream reaches it. No
// call synchronizes with the host, so the decode step's collectives can be captured
// into its CUDA graph together with its kernels and replayed once per token.
//
// Bootstrap, in two phases because the id travels through the coordinator (like UCX):
//   auto id = MakeNcclUniqueId();                  // rank 0 only: 128 opaque bytes
//   ... StartRequest.nccl_unique_id carries id->bytes to every rank ...
//   auto group = NcclCollective::Connect(*id, rank, size, stream);  // every rank, at once
// Connect returns when all `size` ranks joined, or fails after NcclOptions::timeout.
//
// The communicator is non-blocking (NCCL's config.blocking = 0): no NCCL call can stall
// the host thread without a deadline, and a communicator can be aborted while its
// kernels wait for a dead peer. NcclWatchdog (net/nccl_watchdog.h) does that; after an
// abort, or any NCCL error, the group is broken: every later call fails at once with the
// reason (Status::unavailable(): the request may succeed once the group is rebuilt),
// and the group must be rebuilt from a new unique id.
//
// Buffers are device memory of the communicator's GPU (the current device at Connect).
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/cuda/side_stream.h"
#include "net/collective.h"

struct ncclComm;  // <nccl.h>: ncclComm_t

namespace tandem {

// NCCL's bootstrap token (ncclUniqueId, NCCL_UNIQUE_ID_BYTES = 128 bytes): the address
// of rank 0's bootstrap listener; every rank must be given the same one.
struct NcclUniqueId {
  std::array<uint8_t, 128> bytes{};
};

// Phase one, on rank 0 only.
Expected<NcclUniqueId> MakeNcclUniqueId();
// The id from the control plane's bytes (StartRequest.nccl_unique_id); errors on a wrong length.
Expected<NcclUniqueId> NcclUniqueIdFromBytes(std::string_view bytes);

struct NcclOptions {
  // Longest wait for the other ranks where the host waits on NCCL: Connect (all ranks
  // must join) and a collective's first use of a connection (NCCL connects lazily). A
  // call that outlasts it fails and breaks the group. The destructor's flush waits at most
  // 2 s of it, then aborts the communicator in the background.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};

class NcclCollective final : public Collective {
 public:
  // Phase two, on every rank with the same id; `stream` (the backend's, not owned)
  // orders every collective. The current CUDA device becomes the communicator's.
  static Expected<std::unique_ptr<NcclCollective>> Connect(const NcclUniqueId& id, int rank, int size,
                                                           cudaStream_t stream, NcclOptions options = {});
  // Every rank of a group in this process at once, rank r on devices[r] ordered by
  // streams[r] (the ranks of a LocalCluster, a GPU each): one ncclGroup of
  // ncclCommInitRankConfig calls from this thread, so no rank waits on another's thread.
  static Expected<std::vector<std::unique_ptr<NcclCollective>>> ConnectAll(std::span<const int> devices,
                                                                           std::span<const cudaStream_t> streams,
                                                                           NcclOptions options = {});
  ~NcclCollective() override;
  NcclCollective(const NcclCollective&) = delete;
  NcclCollective& operator=(const NcclCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  cudaStream_t stream() const { return stream_; }

  // ncclAllReduce, f32 sum, in place. Every rank ends with the same bits: NCCL's ring and
  // tree algorithms compute each element's sum once, on one rank (ring: the rank that
  // owns its chunk in the reduce-scatter; tree: the root), and then copy those bits to
  // every other rank (ring all-gather, tree broadcast); no rank re-adds on its own.
  // The order of the additions is NCCL's, fixed for a given communicator, size and
  // algorithm, not necessarily rank 0, 1, 2: with 2 ranks that is the same sum (a + b ==
  // b + a in IEEE arithmetic); with 3 ranks it may differ from the in-order sum in the
  // last bit, still identically on every rank, so the replicated router agrees.
  Status AllReduceSum(float* data, int64_t n) override;
  // The same all-reduce on a stream of the communicator's own, forked from the backend's
  // stream at Start (an event: it sees everything queued before) and joined back into it
  // at Finish, so kernels queued in between run while it is in flight. The side stream
  // has the device's highest priority: NCCL's few blocks start before a wide kernel
  // queued after them fills the GPU. Captured into a graph, the pair becomes a branch.
  Status StartAllReduceSum(float* data, int64_t n) override;
  Status FinishAllReduceSum() override;
  bool overlaps() const override { return true; }
  // ncclBroadcast of `bytes` bytes in place.
  Status Broadcast(void* data, uint64_t bytes, int root) override;
  // Grouped point-to-point: each rank but root ncclSends its counts[rank] floats to
  // root, root ncclRecvs each into its offset in recv and copies its own with
  // cudaMemcpyAsync. Chosen over ncclAllGather of padded buffers: only root receives,
  // each rank moves exactly its own bytes, recv needs no padding or compaction pass,
  // and uneven vocabulary slices cost nothing extra. One NCCL group: one launch.
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override;

  // Every call only enqueues work on the stream: a step can be recorded and replayed.
  bool capturable() const override { return true; }
  // NCCL's asynchronous error (a peer closed its connection, a network error, ...),
  // without blocking; a failure breaks the group. Ok while it works.
  Status CheckHealth();
  Status health() override { return CheckHealth(); }
  // Aborts the communicator: NCCL's kernels still waiting on a peer exit, and every
  // later call fails (unavailable) with `reason`. Thread-safe (the watchdog calls it);
  // idempotent: the first reason stays.
  void AbortWith(Status reason);
  void Abort() override;
  // Ok while the group works; otherwise why it broke. Never waits on NCCL.
  Status broken() const;

 private:
  NcclCollective(ncclComm* comm, int rank, int size, cudaStream_t stream, NcclOptions options);
  // The side stream and its fork and join events, on the current device.
  Status CreateSideStream();
  // Fails if the group is broken (mu_ held).
  Status Usable(std::string_view what) const;
  // The result of an enqueue: waits out ncclInProgress, breaks the group on an error.
  Status Finish(std::string_view what, int result);
  // Flushes and frees the communicator, or aborts it when it cannot flush (mu_ held).
  void DropComm();
  // Records the error and aborts the communicator (mu_ held).
  Status BreakLocked(Status error);

  mutable std::mutex mu_;  // guards comm_ between the caller and a watchdog
  ncclComm* comm_;         // null once aborted or destroyed
  const int rank_;
  const int size_;
  cudaStream_t stream_;
  std::unique_ptr<SideStream> side_;  // StartAllReduceSum's: forked at Start, joined at Finish
  bool pending_ = false;              // a Start not yet finished (mu_)
  const NcclOptions options_;
  mutable std::mutex state_mu_;  // guards broken_; never held across an NCCL call, so
                                 // broken() answers while another thread is inside NCCL
  Status broken_;
  std::atomic<bool> abort_requested_{false};  // set by AbortWith from any thread
};

}  // namespace tandem
