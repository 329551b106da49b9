#include "net/device_collective.h"

#include <cstring>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/sum_ranks.h"

namespace tandem {

DeviceInProcessCollective::DeviceInProcessCollective(std::shared_ptr<InProcessGroup> group, int rank, int device,
                                                     cudaStream_t stream)
    : group_(std::move(group)),
      rank_(rank),
      device_(device),
      stream_(stream),
      inputs_(static_cast<size_t>(group_->size()), nullptr) {}

DeviceInProcessCollective::~DeviceInProcessCollective() {
  if (scratch_ == nullptr) return;
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);  // the last sum's copy may still read it
  cudaFree(scratch_);
}

Status DeviceInProcessCollective::AbortOnError(const std::function<Status()>& steps) {
  Status st = steps();
  if (!st.ok()) group_->Abort();
  return st;
}

Status DeviceInProcessCollective::Ready() {
  TANDEM_CUDA_TRY(cudaSetDevice(device_));
  TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

Status DeviceInProcessCollective::QueueCopy(void* dst, const void* src, uint64_t bytes) {
  if (bytes == 0 || dst == src) return Status::Ok();
  if (!IsDeviceMemory(dst) && !IsDeviceMemory(src)) {
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  TANDEM_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_));
  return Status::Ok();
}

Expected<float*> DeviceInProcessCollective::Scratch(int64_t n) {
  if (n <= scratch_floats_) return scratch_;
  if (scratch_ != nullptr) {
    TANDEM_CUDA_TRY(cudaFree(scratch_));  // the stream is idle: Ready() waited for it
    scratch_ = nullptr;
    scratch_floats_ = 0;
  }
  void* p = nullptr;
  TANDEM_CUDA_TRY(cudaMalloc(&p, static_cast<size_t>(n) * sizeof(float)));
  scratch_ = static_cast<float*>(p);
  scratch_floats_ = n;
  return scratch_;
}

Status DeviceInProcessCollective::AllReduceSum(float* data, int64_t n) {
  return AbortOnError([&]() -> Status {
    if (n > 0 && !IsDeviceMemory(data)) {
      return Status::Error("all-reduce on rank {}: {} floats in host memory; the device collective sums device "
                           "memory",
                           rank_, n);
    }
    TANDEM_TRY(Ready());
    TANDEM_ASSIGN_OR_RETURN(float* sum, Scratch(n));
    group_->Post(rank_, data);
    TANDEM_TRY(group_->Arrive(rank_));
    for (int r = 0; r < size(); ++r) inputs_[static_cast<size_t>(r)] = static_cast<const float*>(group_->posted(r));
    TANDEM_CUDA_TRY(SumInRankOrder(inputs_.data(), size(), n, sum, stream_));
    TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
    TANDEM_TRY(group_->Arrive(rank_));  // every rank has read every input
    return QueueCopy(data, sum, static_cast<uint64_t>(n) * sizeof(float));
  });
}

Status DeviceInProcessCollective::Broadcast(void* data, uint64_t bytes, int root) {
  return AbortOnError([&]() -> Status {
    TANDEM_TRY(Ready());
    group_->Post(rank_, data);
    TANDEM_TRY(group_->Arrive(rank_));
    if (rank_ != root) {
      TANDEM_TRY(QueueCopy(data, group_->posted(root), bytes));
      TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
    }
    return group_->Arrive(rank_);  // root's buffer is free again
  });
}

Status DeviceInProcessCollective::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  return AbortOnError([&]() -> Status {
    if (static_cast<int>(counts.size()) != size()) {
      return Status::Error("gather: {} counts for a group of {} ranks", counts.size(), size());
    }
    TANDEM_TRY(Ready());
    group_->Post(rank_, send);
    TANDEM_TRY(group_->Arrive(rank_));
    if (rank_ == root) {
      for (int r = 0; r < size(); ++r) {
        TANDEM_TRY(QueueCopy(recv, group_->posted(r), static_cast<uint64_t>(counts[r]) * sizeof(float)));
        recv += counts[r];
      }
      TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
    }
    return group_->Arrive(rank_);  // every rank's send is free again
  });
}

}  // namespace tandem
