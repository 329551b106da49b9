// Times the ops of a CUDA stream with event pairs, summed by op name (profiling only:
// tandem bench decode --profile). Ops recorded into a CUDA graph are not timed.
#pragma once

#include <cuda_runtime_api.h>

#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/op_profile.h"

namespace tandem {

class CudaOpTimer {
 public:
  CudaOpTimer() = default;
  ~CudaOpTimer();
  CudaOpTimer(const CudaOpTimer&) = delete;
  CudaOpTimer& operator=(const CudaOpTimer&) = delete;

  // Turns timing on or off; either way the sums start again.
  void Enable(bool on);
  bool enabled() const { return on_; }
  // Waits for the timed ops and lists the sums.
  Expected<std::vector<OpTime>> Collect();

  // Times the ops a backend method queues on `stream` from construction to destruction
  // (nothing when the timer is off or `active` is false).
  class Scope {
   public:
    Scope(CudaOpTimer& timer, cudaStream_t stream, std::string_view op, bool active);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    CudaOpTimer* timer_ = nullptr;  // null: not timing
    cudaStream_t stream_;
    std::string_view op_;
    cudaEvent_t begin_ = nullptr;
  };

 private:
  struct Pending {
    std::string_view op;
    cudaEvent_t begin, end;
  };
  static constexpr size_t kMaxPending = 4096;  // then the timer waits and sums (bounded events)

  cudaEvent_t Take();
  Status Drain();

  bool on_ = false;
  std::vector<Pending> pending_;
  std::vector<cudaEvent_t> spare_;
  OpTotals totals_;
  Status error_;
};

}  // namespace tandem
