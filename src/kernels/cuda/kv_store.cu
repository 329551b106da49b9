#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/kv_store.h"
#include "kernels/cuda/launch_after_previous.cuh"

namespace tandem {
namespace {

constexpr int kThreads = 256;

template <bool kF16>
__global__ void StoreKernel(void* cache, int64_t kv_dim, int64_t pos0, const float* src, int64_t n) {
  cuda_detail::StartAfterPreviousKernel();
  const int64_t offset = pos0 * kv_dim;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  if constexpr (kF16) {
    static_cast<__half*>(cache)[offset + i] = __float2half_rn(src[i]);
  } else {
    static_cast<float*>(cache)[offset + i] = src[i];
  }
}

template <bool kF16>
__global__ void FillRandomKernel(void* cache, int64_t n, uint32_t seed) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  uint32_t h = static_cast<uint32_t>(i) * 0x9e3779b1u ^ static_cast<uint32_t>(i >> 32) ^ seed;  // a hash of i
  h ^= h >> 16, h *= 0x85ebca6bu, h ^= h >> 13, h *= 0xc2b2ae35u, h ^= h >> 16;
  const float x = static_cast<float>(h >> 8) / 8388608.0f - 1.0f;
  if constexpr (kF16) {
    static_cast<__half*>(cache)[i] = __float2half_rn(x);
  } else {
    static_cast<float*>(cache)[i] = x;
  }
}

}  // namespace

cudaError_t FillKvRandom(void* cache, bool f16, int64_t n, uint32_t seed, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  if (f16) {
    FillRandomKernel<true><<<blocks, kThreads, 0, stream>>>(cache, n, seed);
  } else {
    FillRandomKernel<false><<<blocks, kThreads, 0, stream>>>(cache, n, seed);
  }
  return cudaGetLastError();
}

cudaError_t StoreKvRows(void* cache, bool f16, int64_t kv_dim, int64_t pos0, const float* src, int64_t n_tokens,
                        cudaStream_t stream) {
  const int64_t n = n_tokens * kv_dim;
  if (n <= 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  return cuda_detail::LaunchAfterPrevious(f16 ? StoreKernel<true> : StoreKernel<false>, blocks, kThreads, 0, stream,
                                          cache, kv_dim, pos0, src, n);
}

}  // namespace tandem
