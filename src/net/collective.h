// How the ranks of one model exchange activations: the few collectives a sharded forward
// pass needs. Buffers live in the memory of the ranks' backend (host memory for the CPU
// backend, device memory for CUDA); a call returns when the local result is ready (or,
// for a backend stream, is ordered on it).
//
// After AllReduceSum every rank holds bit-identical values: sums run in a fixed rank
// order, so the replicated router picks the same experts everywhere.
#pragma once

#include <cstdint>
#include <span>

#include "common/status.h"

namespace tandem {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // data: [n] f32 on every rank; afterwards each holds the sum over ranks 0, 1, ... in order.
  virtual Status AllReduceSum(float* data, int64_t n) = 0;
  // An all-reduce whose result is needed only later, in two calls: StartAllReduceSum
  // issues it, and FinishAllReduceSum, called once after it before any other call, orders
  // what the backend's stream runs next after its result. A collective that overlaps()
  // runs it on a stream of its own, beside the ops issued in between (NCCL; the pair is
  // capturable like its other calls); the others finish it inside Start.
  virtual Status StartAllReduceSum(float* data, int64_t n) { return AllReduceSum(data, n); }
  virtual Status FinishAllReduceSum() { return Status::Ok(); }
  virtual bool overlaps() const { return false; }
  // data: `bytes` bytes; root's are copied to every other rank.
  virtual Status Broadcast(void* data, uint64_t bytes, int root) = 0;
  // Broadcast on a rank that waits, idle, for root's next message (a worker between
  // requests): without the deadline a call otherwise has. Abort, or a transport that
  // reports a lost peer, ends the wait; a worker's heartbeats to the coordinator (rank 0)
  // make sure one of them does when rank 0 is gone.
  virtual Status AwaitBroadcast(void* data, uint64_t bytes, int root) { return Broadcast(data, bytes, root); }
  // send: [counts[rank()]] f32 on every rank; root's recv: [sum of counts] = each rank's
  // send in rank order. counts has size() entries, the same on every rank.
  virtual Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) = 0;
  // Makes a call that waits for other ranks, and every later call, fail promptly; safe
  // from any thread. For leaving a group whose other ranks are gone or have stopped.
  virtual void Abort() = 0;
  // Whether the calls can be recorded into a CUDA graph on the backend's stream and
  // replayed: the engine then records a decode step once and replays it.
  virtual bool capturable() const { return false; }
  // Ok while the results of the calls made so far can be trusted. A collective whose calls
  // return before their work is done (NCCL, enqueued on a stream) reports here a failure
  // that came later (an abort, a peer's error): the caller checks it after waiting for
  // the results (the engine does, after each wait for the device) and discards them.
  virtual Status health() { return Status::Ok(); }
};

// One rank: every collective is the identity (Gather copies send to recv).
class SoloCollective final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Status AllReduceSum(float*, int64_t) override { return Status::Ok(); }
  Status Broadcast(void*, uint64_t, int) override { return Status::Ok(); }
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override;
  void Abort() override {}
  bool capturable() const override { return true; }
};

}  // namespace tandem
