#include <cuda_runtime.h>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/moe_experts_launch.h"

namespace tandem::cuda_detail {
namespace {

constexpr int kThreads = 256;

// Grid (column blocks, tokens).
__global__ void __launch_bounds__(kThreads) WeightedSumKernel(const float* __restrict__ down,
                                                             const int32_t* __restrict__ ids,
                                                             const float* __restrict__ weights, int k, int n_embd,
                                                             int expert_begin, int n_expert, float* __restrict__ out) {
  cuda_detail::StartAfterPreviousKernel();
  const int t = blockIdx.y;
  const int c = blockIdx.x * kThreads + threadIdx.x;
  if (c >= n_embd) return;
  float sum = 0.0f;
  for (int j = 0; j < k; ++j) {
    const int pair = t * k + j;
    const int e = ids[pair] - expert_begin;
    if (e < 0 || e >= n_expert) continue;  // not held here: its down row was never written
    sum = fmaf(weights[pair], down[static_cast<int64_t>(pair) * n_embd + c], sum);
  }
  out[static_cast<int64_t>(t) * n_embd + c] = sum;
}

}  // namespace

cudaError_t LaunchMoeWeightedSum(const float* down, const int32_t* ids, const float* weights, int64_t n_tokens,
                                 int64_t k, int64_t n_embd, int64_t expert_begin, int64_t n_expert, float* out,
                                 cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((n_embd + kThreads - 1) / kThreads), static_cast<unsigned>(n_tokens));
  return LaunchAfterPrevious(WeightedSumKernel, grid, kThreads, 0, stream, down, ids, weights, static_cast<int>(k),
                             static_cast<int>(n_embd), static_cast<int>(expert_begin), static_cast<int>(n_expert), out);
}

}  // namespace tandem::cuda_detail
