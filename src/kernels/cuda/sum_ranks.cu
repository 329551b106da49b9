#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/sum_ranks.h"

namespace tandem {
namespace {

constexpr int kThreads = 256;
constexpr int kInputsPerLaunch = 8;  // pointers passed by value; more inputs take more launches

struct Inputs {
  const float* data[kInputsPerLaunch];
  int count;        // <= kInputsPerLaunch
  bool accumulate;  // start from out (the earlier inputs' sum) instead of 0
};

// Launched the ordinary way (its inputs come from other streams through events); it still
// lets the next kernel launch early.
__global__ void SumKernel(Inputs in, int64_t n, float* out) {
  cuda_detail::StartAfterPreviousKernel();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  float acc = in.accumulate ? out[i] : 0.0f;
#pragma unroll
  for (int k = 0; k < kInputsPerLaunch; ++k) {
    if (k < in.count) acc = __fadd_rn(acc, in.data[k][i]);  // no contraction, no reordering
  }
  out[i] = acc;
}

}  // namespace

cudaError_t SumInRankOrder(const float* const* inputs, int n_inputs, int64_t n, float* out, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (n_inputs < 1) return cudaErrorInvalidValue;
  const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  for (int first = 0; first < n_inputs; first += kInputsPerLaunch) {
    Inputs in{};
    in.count = std::min(kInputsPerLaunch, n_inputs - first);
    in.accumulate = first > 0;
    std::copy_n(inputs + first, in.count, in.data);
    SumKernel<<<blocks, kThreads, 0, stream>>>(in, n, out);
    if (cudaError_t err = cudaGetLastError(); err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

}  // namespace tandem
