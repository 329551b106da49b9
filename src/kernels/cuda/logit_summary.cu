#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/logit_summary.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace tandem {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ uint64_t DeviceTopKey(float logit, int64_t id) {
  uint32_t bits = logit == 0.0f ? 0u : __float_as_uint(logit);  // -0 as +0 (TopKey)
  bits = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
  return static_cast<uint64_t>(bits) << 32 | (0xffffffffu - static_cast<uint32_t>(id));
}

__global__ void __launch_bounds__(kThreads) PenalizeKernel(float* logits, int64_t n, int64_t vocab_begin,
                                                          const int32_t* ids, int n_ids, float repetition,
                                                          float presence) {
  cuda_detail::StartAfterPreviousKernel();
  const int j = blockIdx.x * kThreads + threadIdx.x;
  if (j >= n_ids) return;
  const int64_t i = ids[j] - vocab_begin;
  if (i < 0 || i >= n) return;
  const float l = logits[i];
  const float scaled = l > 0 ? __fdiv_rn(l, repetition) : __fmul_rn(l, repetition);
  logits[i] = __fsub_rn(scaled, presence);
}

__device__ __forceinline__ uint64_t WarpMaxKey(uint64_t v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t other = __shfl_xor_sync(0xffffffffu, v, o);
    v = other > v ? other : v;
  }
  return v;
}

// Sorts s[0, kTopKeysChunk) descending (bitonic network; every thread of the block takes part).
__device__ void SortDescending(uint64_t* s) {
  for (int size = 2; size <= kTopKeysChunk; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < kTopKeysChunk / 2; i += kThreads) {
        const int lo = 2 * i - (i & (stride - 1));
        const int hi = lo + stride;
        const bool descending = (lo & size) == 0;
        const uint64_t a = s[lo], b = s[hi];
        if ((a < b) == descending) {
          s[lo] = b;
          s[hi] = a;
        }
      }
      __syncthreads();
    }
  }
}

// Block c: chunk c of the logits (kFromLogits) or keys; its best k keys to out[c * k ..),
// and its stats (logits with temperature > 0).
template <bool kFromLogits>
__global__ void __launch_bounds__(kThreads) TopKeysKernel(const float* __restrict__ logits,
                                                         const uint64_t* __restrict__ keys_in, int64_t n,
                                                         int64_t vocab_begin, int k, float temperature,
                                                         uint64_t* __restrict__ out, double* __restrict__ stats) {
  cuda_detail::StartAfterPreviousKernel();
  __shared__ uint64_t s[kTopKeysChunk];
  __shared__ float max_scratch[32];
  __shared__ double sum_scratch[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * kTopKeysChunk;
  float local_max = -INFINITY;
  uint64_t best = 0;
  for (int i = threadIdx.x; i < kTopKeysChunk; i += kThreads) {
    const int64_t j = base + i;
    uint64_t key = 0;
    if (j < n) {
      if constexpr (kFromLogits) {
        const float l = logits[j];
        local_max = fmaxf(local_max, l);
        key = DeviceTopKey(l, vocab_begin + j);
      } else {
        key = keys_in[j];
      }
    }
    s[i] = key;
    best = key > best ? key : best;
  }
  if (kFromLogits && temperature > 0.0f) {
    const float chunk_max = cuda_detail::BlockMax(local_max, max_scratch);
    double sum = 0.0;
    for (int64_t j = base + threadIdx.x; j < n && j < base + kTopKeysChunk; j += kThreads) {
      sum += exp((static_cast<double>(logits[j]) - chunk_max) / temperature);
    }
    sum = cuda_detail::BlockSum(sum, sum_scratch);
    if (threadIdx.x == 0) {
      stats[2 * blockIdx.x] = chunk_max;
      stats[2 * blockIdx.x + 1] = sum;
    }
  }
  if (k == 1) {
    __shared__ uint64_t warp_best[kThreads / 32];
    best = WarpMaxKey(best);
    if ((threadIdx.x & 31) == 0) warp_best[threadIdx.x >> 5] = best;
    __syncthreads();
    if (threadIdx.x < 32) {
      best = WarpMaxKey(threadIdx.x < kThreads / 32 ? warp_best[threadIdx.x] : 0);
      if (threadIdx.x == 0) out[blockIdx.x] = best;
    }
    return;
  }
  __syncthreads();
  SortDescending(s);
  for (int i = threadIdx.x; i < k; i += kThreads) out[static_cast<int64_t>(blockIdx.x) * k + i] = s[i];
}

}  // namespace

cudaError_t PenalizeLogits(float* logits, int64_t n, int64_t vocab_begin, const int32_t* ids, int n_ids,
                           float repetition, float presence, cudaStream_t stream) {
  if (n_ids <= 0) return cudaSuccess;
  return cuda_detail::LaunchAfterPrevious(PenalizeKernel, static_cast<unsigned>((n_ids + kThreads - 1) / kThreads),
                                          kThreads, 0, stream, logits, n, vocab_begin, ids, n_ids, repetition,
                                          presence);
}

cudaError_t TopKeysOfLogits(const float* logits, int64_t n, int64_t vocab_begin, int k, float temperature,
                            uint64_t* keys, double* stats, cudaStream_t stream) {
  if (n <= 0 || k < 1 || k > kTopKeysMaxK) return cudaErrorInvalidValue;
  return cuda_detail::LaunchAfterPrevious(TopKeysKernel<true>, static_cast<unsigned>(TopKeyChunks(n)), kThreads, 0,
                                          stream, logits, static_cast<const uint64_t*>(nullptr), n, vocab_begin, k,
                                          temperature, keys, stats);
}

cudaError_t TopKeysOfKeys(const uint64_t* keys, int64_t n, int k, uint64_t* keys_out, cudaStream_t stream) {
  if (n <= 0 || k < 1 || k > kTopKeysMaxK) return cudaErrorInvalidValue;
  return cuda_detail::LaunchAfterPrevious(TopKeysKernel<false>, static_cast<unsigned>(TopKeyChunks(n)), kThreads, 0,
                                          stream, static_cast<const float*>(nullptr), keys, n, int64_t{0}, k, 0.0f,
                                          keys_out, static_cast<double*>(nullptr));
}

}  // namespace tandem
