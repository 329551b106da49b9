#include "bench/decode/emulated_link.h"

#ifdef TANDEM_HAVE_CUDA
#include <cuda_runtime_api.h>

#include <algorithm>

#include "engine/cuda_backend.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/side_stream.h"
#include "kernels/cuda/spin_delay.h"
#endif

namespace tandem::bench {

#ifdef TANDEM_HAVE_CUDA
namespace {

class EmulatedLinkCollective final : public Collective {
 public:
  EmulatedLinkCollective(int64_t latency_ns, cudaStream_t stream, std::unique_ptr<SideStream> side)
      : latency_ns_(latency_ns), stream_(stream), side_(std::move(side)) {}

  int rank() const override { return 0; }
  int size() const override { return 1; }
  Status AllReduceSum(float* data, int64_t n) override {
    if (n <= 0 || !IsDeviceMemory(data)) return Status::Ok();
    TANDEM_CUDA_TRY(SpinDelay(latency_ns_, stream_));
    return Status::Ok();
  }
  Status StartAllReduceSum(float* data, int64_t n) override {
    if (n <= 0 || !IsDeviceMemory(data)) return Status::Ok();
    TANDEM_TRY(side_->Fork(stream_));
    TANDEM_CUDA_TRY(SpinDelay(latency_ns_, side_->stream()));
    pending_ = true;
    return Status::Ok();
  }
  Status FinishAllReduceSum() override {
    if (!pending_) return Status::Ok();
    pending_ = false;
    return side_->Join(stream_);
  }
  bool overlaps() const override { return true; }
  Status Broadcast(void*, uint64_t, int) override { return Status::Ok(); }
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override {
    if (root != 0 || counts.size() != 1) return Status::Error("gather on one rank: root {} of {} counts", root, counts.size());
    if (send == recv || counts[0] == 0) return Status::Ok();
    if (!IsDeviceMemory(send) && !IsDeviceMemory(recv)) {
      std::copy_n(send, counts[0], recv);
      return Status::Ok();
    }
    TANDEM_CUDA_TRY(cudaMemcpyAsync(recv, send, static_cast<size_t>(counts[0]) * sizeof(float), cudaMemcpyDefault,
                                    stream_));
    return Status::Ok();
  }
  void Abort() override {}
  bool capturable() const override { return true; }

 private:
  const int64_t latency_ns_;
  cudaStream_t stream_;  // the backend's
  std::unique_ptr<SideStream> side_;  // at NCCL's priority: the device's highest
  bool pending_ = false;
};

}  // namespace
#endif

Expected<std::unique_ptr<Collective>> MakeEmulatedLink([[maybe_unused]] Backend& backend,
                                                       [[maybe_unused]] int64_t latency_ns) {
#ifdef TANDEM_HAVE_CUDA
  if (auto* cuda = dynamic_cast<CudaBackend*>(&backend)) {
    auto side = SideStream::Create(/*highest_priority=*/true);
    if (!side.ok()) return side.status().WithContext("emulated link");
    return std::unique_ptr<Collective>(
        std::make_unique<EmulatedLinkCollective>(latency_ns, cuda->stream(), std::move(side).value()));
  }
#endif
  return Status::Error("an emulated link needs the cuda backend (--backend cuda), not {}", backend.name());
}

}  // namespace tandem::bench
