#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/kv_store.h"

namespace tandem {
namespace {

constexpr int kThreads = 256;

template <bool kF16>
__global__ void StoreKernel(void* cache, int64_t offset, const float* src, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  if constexpr (kF16) {
    static_cast<__half*>(cache)[offset + i] = __float2half_rn(src[i]);
  } else {
    static_cast<float*>(cache)[offset + i] = src[i];
  }
}

}  // namespace

cudaError_t StoreKvRows(void* cache, bool f16, int64_t kv_dim, int64_t pos0, const float* src, int64_t n_tokens,
                        cudaStream_t stream) {
  const int64_t n = n_tokens * kv_dim;
  if (n <= 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  if (f16) {
    StoreKernel<true><<<blocks, kThreads, 0, stream>>>(cache, pos0 * kv_dim, src, n);
  } else {
    StoreKernel<false><<<blocks, kThreads, 0, stream>>>(cache, pos0 * kv_dim, src, n);
  }
  return cudaGetLastError();
}

}  // namespace tandem
