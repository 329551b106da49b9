// A stream that runs beside another: Fork(main) makes the work queued on it next wait for
// everything queued on `main` so far; Join(main) makes main's later work wait for
// everything queued on it so far. Both are an event record and a wait, so a CUDA graph
// being captured on `main` follows them: the side stream's work becomes a branch of the
// graph. Owns its stream and two events, made on the current device. (The CUDA backend's
// parallel products, NCCL's all-reduce beside the attention, bench's emulated link.)
#pragma once

#include <cuda_runtime_api.h>

#include <memory>

#include "common/status.h"
#include "kernels/cuda/cuda_check.h"

namespace tandem {

class SideStream {
 public:
  // highest_priority: the device's most urgent stream priority, so a few blocks queued
  // here start before a wide kernel queued on `main` after them fills the GPU.
  static Expected<std::unique_ptr<SideStream>> Create(bool highest_priority = false) {
    std::unique_ptr<SideStream> s(new SideStream());
    int least = 0, greatest = 0;
    if (highest_priority) TANDEM_CUDA_TRY(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    TANDEM_CUDA_TRY(cudaStreamCreateWithPriority(&s->stream_, cudaStreamNonBlocking, greatest));
    TANDEM_CUDA_TRY(cudaEventCreateWithFlags(&s->fork_, cudaEventDisableTiming));
    TANDEM_CUDA_TRY(cudaEventCreateWithFlags(&s->join_, cudaEventDisableTiming));
    return s;
  }
  // Work still queued on the stream keeps it until that work ends.
  ~SideStream() {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    if (fork_ != nullptr) cudaEventDestroy(fork_);
    if (join_ != nullptr) cudaEventDestroy(join_);
  }
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;

  cudaStream_t stream() const { return stream_; }
  Status Fork(cudaStream_t main) {
    TANDEM_CUDA_TRY(cudaEventRecord(fork_, main));
    TANDEM_CUDA_TRY(cudaStreamWaitEvent(stream_, fork_, 0));
    return Status::Ok();
  }
  Status Join(cudaStream_t main) {
    TANDEM_CUDA_TRY(cudaEventRecord(join_, stream_));
    TANDEM_CUDA_TRY(cudaStreamWaitEvent(main, join_, 0));
    return Status::Ok();
  }

 private:
  SideStream() = default;

  cudaStream_t stream_ = nullptr;
  cudaEvent_t fork_ = nullptr;  // recorded on `main` at Fork
  cudaEvent_t join_ = nullptr;  // recorded on stream_ at Join
};

}  // namespace tandem
