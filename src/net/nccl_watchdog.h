// Makes sure an NCCL collective never hangs forever. A peer that dies or hangs in the
// middle of a step leaves this rank's NCCL kernels waiting for it on the GPU, and the
// host's once-per-token sync (cudaStreamSynchronize / cudaEventSynchronize) would never
// return. The watchdog is a thread beside the rank's engine thread that, every `poll`:
//   - asks NCCL for the communicator's asynchronous error (NCCL's proxy notices a closed
//     connection or a network error from a peer), and
//   - while armed, compares the clock with the step's deadline;
// on either it aborts the communicator (NcclCollective::Abort): NCCL's kernels see the
// abort flag and exit, the engine's sync returns, and every later call on the group
// fails at once with the reason.
//
// How the CUDA engine uses it, once per decode step (one captured CUDA graph):
//   watchdog.Arm(budget);                        // e.g. 2 s: the detection bound
//   cudaGraphLaunch(step, stream); cudaStreamSynchronize(stream);
//   watchdog.Disarm();
//   if (Status st = group.broken(); !st.ok()) -> fail in-flight requests UNAVAILABLE with
//       st's message, report the rank unhealthy; the coordinator re-bootstraps the group
//       from a new unique id when every rank is back (see net/nccl_collective.h).
// Arm's budget must exceed the slowest legitimate step (prefill chunks included), so
// prefill arms with a budget that scales with its tokens.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "net/nccl_collective.h"

namespace tandem {

class NcclWatchdog {
 public:
  // `group` must outlive the watchdog.
  explicit NcclWatchdog(NcclCollective& group, std::chrono::microseconds poll = std::chrono::milliseconds(1));
  ~NcclWatchdog();
  NcclWatchdog(const NcclWatchdog&) = delete;
  NcclWatchdog& operator=(const NcclWatchdog&) = delete;

  // The work now enqueued on the group's stream must finish within `budget`.
  void Arm(std::chrono::milliseconds budget);
  // It did (the host's sync returned).
  void Disarm();
  // Ok until the watchdog aborted the group; then why it did.
  Status failure() const;

 private:
  void Watch();

  NcclCollective& group_;
  const std::chrono::microseconds poll_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // while armed
  std::chrono::milliseconds budget_{0};
  Status failure_;
  std::thread thread_;  // last: starts once everything above is set up
};

}  // namespace tandem
