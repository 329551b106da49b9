#include "kernels/cuda/bandwidth_probe.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "kernels/cuda/bandwidth_probe_launch.h"
#include "kernels/cuda/cuda_check.h"

namespace tandem {
namespace {

// Median seconds of `repeats` runs of `pass` (after two warm-ups), each between events.
Expected<double> MedianSeconds(const std::function<cudaError_t()>& pass, int repeats) {
  cudaEvent_t start = nullptr, stop = nullptr;
  TANDEM_CUDA_TRY(cudaEventCreate(&start));
  TANDEM_CUDA_TRY(cudaEventCreate(&stop));
  std::vector<double> times;
  Status st;
  for (int i = 0; i < repeats + 2 && st.ok(); ++i) {
    st = CudaStatus(cudaEventRecord(start), "cudaEventRecord", __FILE__, __LINE__);
    if (st.ok()) st = CudaStatus(pass(), "bandwidth pass", __FILE__, __LINE__);
    if (st.ok()) st = CudaStatus(cudaEventRecord(stop), "cudaEventRecord", __FILE__, __LINE__);
    if (st.ok()) st = CudaStatus(cudaEventSynchronize(stop), "cudaEventSynchronize", __FILE__, __LINE__);
    float ms = 0;
    if (st.ok()) st = CudaStatus(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime", __FILE__, __LINE__);
    if (st.ok() && i >= 2) times.push_back(ms * 1e-3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (!st.ok()) return st;
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Two device buffers freed on scope exit.
struct DeviceBuffers {
  void* a = nullptr;
  void* b = nullptr;
  ~DeviceBuffers() {
    cudaFree(a);
    cudaFree(b);
  }
};

}  // namespace

Expected<BandwidthSample> MeasureCopyBandwidth(uint64_t bytes, int repeats) {
  bytes = bytes / 16 * 16;
  DeviceBuffers buf;
  TANDEM_CUDA_TRY(cudaMalloc(&buf.a, bytes));
  TANDEM_CUDA_TRY(cudaMalloc(&buf.b, bytes));
  TANDEM_CUDA_TRY(cudaMemset(buf.a, 0x5a, bytes));
  auto seconds = MedianSeconds([&] { return cuda_detail::LaunchCopy16(buf.a, buf.b, bytes / 16, nullptr); }, repeats);
  if (!seconds.ok()) return seconds.status().WithContext("copy bandwidth");
  return BandwidthSample{2.0 * static_cast<double>(bytes) / *seconds / 1e9, *seconds};
}

Expected<BandwidthSample> MeasureReadBandwidth(uint64_t bytes, int repeats) {
  bytes = bytes / 16 * 16;
  DeviceBuffers buf;
  TANDEM_CUDA_TRY(cudaMalloc(&buf.a, bytes));
  TANDEM_CUDA_TRY(cudaMalloc(&buf.b, sizeof(float)));
  TANDEM_TRY(FillRandomBytes(buf.a, bytes, 1, nullptr));
  auto seconds = MedianSeconds(
      [&] { return cuda_detail::LaunchRead16(buf.a, bytes / 16, static_cast<float*>(buf.b), nullptr); }, repeats);
  if (!seconds.ok()) return seconds.status().WithContext("read bandwidth");
  return BandwidthSample{static_cast<double>(bytes) / *seconds / 1e9, *seconds};
}

Status FillRandomBytes(void* dst, uint64_t bytes, uint64_t seed, cudaStream_t stream) {
  TANDEM_CUDA_TRY(cuda_detail::LaunchFillRandom(dst, bytes, seed, stream));
  return Status::Ok();
}

}  // namespace tandem
