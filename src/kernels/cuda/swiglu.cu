#include <cuda_runtime.h>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/swiglu.h"

namespace tandem {
namespace {

constexpr int kThreads = 256;

__global__ void SwiGluKernel(const float* gate, const float* up, int64_t n, float* out) {
  cuda_detail::StartAfterPreviousKernel();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  const float g = gate[i];
  out[i] = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), up[i]);
}

}  // namespace

cudaError_t SwiGluVectors(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  return cuda_detail::LaunchAfterPrevious(SwiGluKernel, static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads,
                                         0, stream, gate, up, n, out);
}

}  // namespace tandem
