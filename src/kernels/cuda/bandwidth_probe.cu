// Streaming kernels for the bandwidth probe (bandwidth_probe.h).
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/bandwidth_probe_launch.h"

namespace tandem::cuda_detail {
namespace {

constexpr int kThreads = 256;

int StreamBlocks(uint64_t n16) {
  int device = 0, sms = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  const uint64_t wanted = (n16 + kThreads - 1) / kThreads;
  return static_cast<int>(std::min<uint64_t>(wanted, static_cast<uint64_t>(std::max(sms, 1)) * 16));
}

__global__ void __launch_bounds__(kThreads) Copy16Kernel(const uint4* __restrict__ src, uint4* __restrict__ dst,
                                                          uint64_t n16) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * kThreads;
  uint64_t i = static_cast<uint64_t>(blockIdx.x) * kThreads + threadIdx.x;
  for (; i + 3 * stride < n16; i += 4 * stride) {  // four loads in flight per thread
    const uint4 a = src[i], b = src[i + stride], c = src[i + 2 * stride], d = src[i + 3 * stride];
    dst[i] = a, dst[i + stride] = b, dst[i + 2 * stride] = c, dst[i + 3 * stride] = d;
  }
  for (; i < n16; i += stride) dst[i] = src[i];
}

__global__ void __launch_bounds__(kThreads) Read16Kernel(const uint4* __restrict__ src, uint64_t n16,
                                                          float* sink) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * kThreads;
  uint64_t i = static_cast<uint64_t>(blockIdx.x) * kThreads + threadIdx.x;
  uint32_t acc = 0;
  for (; i + 3 * stride < n16; i += 4 * stride) {
    const uint4 a = __ldcs(src + i), b = __ldcs(src + i + stride), c = __ldcs(src + i + 2 * stride),
                d = __ldcs(src + i + 3 * stride);
    acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
  }
  for (; i < n16; i += stride) {
    const uint4 a = __ldcs(src + i);
    acc ^= a.x ^ a.y ^ a.z ^ a.w;
  }
  if (acc == 0x9e3779b9u) *sink = static_cast<float>(acc);  // keeps the loads alive
}

__device__ __forceinline__ uint32_t Hash(uint64_t v) {
  v ^= v >> 33;
  v *= 0xff51afd7ed558ccdull;
  v ^= v >> 33;
  v *= 0xc4ceb9fe1a85ec53ull;
  v ^= v >> 33;
  return static_cast<uint32_t>(v);
}

__global__ void __launch_bounds__(kThreads) FillRandomKernel(uint8_t* dst, uint64_t bytes, uint64_t seed) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * kThreads;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * kThreads + threadIdx.x; i < (bytes + 3) / 4; i += stride) {
    const uint32_t v = Hash(seed * 0x9e3779b97f4a7c15ull + i);
    for (int b = 0; b < 4 && 4 * i + b < bytes; ++b) dst[4 * i + b] = static_cast<uint8_t>(v >> (8 * b));
  }
}

}  // namespace

cudaError_t LaunchCopy16(const void* src, void* dst, uint64_t n16, cudaStream_t stream) {
  Copy16Kernel<<<StreamBlocks(n16), kThreads, 0, stream>>>(static_cast<const uint4*>(src), static_cast<uint4*>(dst), n16);
  return cudaGetLastError();
}

cudaError_t LaunchRead16(const void* src, uint64_t n16, float* sink, cudaStream_t stream) {
  Read16Kernel<<<StreamBlocks(n16), kThreads, 0, stream>>>(static_cast<const uint4*>(src), n16, sink);
  return cudaGetLastError();
}

cudaError_t LaunchFillRandom(void* dst, uint64_t bytes, uint64_t seed, cudaStream_t stream) {
  FillRandomKernel<<<StreamBlocks((bytes + 3) / 4), kThreads, 0, stream>>>(static_cast<uint8_t*>(dst), bytes, seed);
  return cudaGetLastError();
}

}  // namespace tandem::cuda_detail
