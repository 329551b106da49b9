// Kernels of the boundary probe (boundary_probe.h): a phase is a streaming read of its
// words (16-byte non-coherent loads, xor-accumulated, one xor per block written to a sink
// nobody reads back within the step), run either as one kernel per phase (programmatic
// dependent launch) or inside one persistent kernel with a software grid barrier between
// phases, optionally prefetching the next phase into L2 before each barrier.
#include <cuda/atomic>
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/boundary_probe_launch.h"
#include "kernels/cuda/launch_after_previous.cuh"

namespace tandem::cuda_detail {
namespace {

constexpr int kThreads = kBoundaryThreads;
constexpr int kWarps = kThreads / 32;
// cp.async.bulk.prefetch takes up to this many bytes per instruction here (a multiple of 16).
constexpr uint64_t kPrefetchChunk16 = (64 * 1024) / 16;  // 64 KB, in 16-byte words

// Xor of the 32-bit words of words [0, n16) of src that this thread's grid-stride share
// covers: four 16-byte loads in flight per thread.
__device__ __forceinline__ uint32_t XorShare(const uint4* __restrict__ src, uint64_t n16) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * kThreads;
  uint64_t i = static_cast<uint64_t>(blockIdx.x) * kThreads + threadIdx.x;
  uint32_t acc = 0;
  for (; i + 3 * stride < n16; i += 4 * stride) {
    const uint4 a = __ldg(src + i), b = __ldg(src + i + stride), c = __ldg(src + i + 2 * stride),
                d = __ldg(src + i + 3 * stride);
    acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
  }
  for (; i < n16; i += stride) {
    const uint4 a = __ldg(src + i);
    acc ^= a.x ^ a.y ^ a.z ^ a.w;
  }
  return acc;
}

// Xor of v over the block, valid in thread 0. Ends with every thread past one __syncthreads
// after its write to `warps`: a caller reusing `warps` must sync again first.
__device__ __forceinline__ uint32_t BlockXor(uint32_t v, uint32_t* warps) {
  for (int offset = 16; offset > 0; offset >>= 1) v ^= __shfl_xor_sync(0xffffffffu, v, offset);
  if ((threadIdx.x & 31) == 0) warps[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    v = threadIdx.x < kWarps ? warps[threadIdx.x] : 0;
    for (int offset = 16; offset > 0; offset >>= 1) v ^= __shfl_xor_sync(0xffffffffu, v, offset);
  }
  return v;
}

// Asks L2 to fetch this block's contiguous share of words [0, n16) of src (about
// n16 / gridDim.x words), in chunks of at most 64 KB spread over the block's threads.
// Returns at once (the prefetch is asynchronous); a no-op before sm_90.
__device__ __forceinline__ void PrefetchShareToL2(const uint4* src, uint64_t n16) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const uint64_t per_block = (n16 + gridDim.x - 1) / gridDim.x;
  const uint64_t begin = static_cast<uint64_t>(blockIdx.x) * per_block;
  const uint64_t end = min(n16, begin + per_block);
  for (uint64_t c = begin + static_cast<uint64_t>(threadIdx.x) * kPrefetchChunk16; c < end;
       c += static_cast<uint64_t>(kThreads) * kPrefetchChunk16) {
    const uint32_t bytes = static_cast<uint32_t>(min(kPrefetchChunk16, end - c) * 16);  // multiple of 16
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(__cvta_generic_to_global(src + c)), "r"(bytes)
                 : "memory");
  }
#else
  (void)src;
  (void)n16;
#endif
}

// All blocks of the grid (all resident: a cooperative launch) meet here. Reset-free: the
// counter only grows, by gridDim.x per barrier, so the k-th barrier since the words were
// zeroed opens generation k once its last block arrives; waiters spin (acquire) until the
// generation reaches k. 64-bit words: no wrap in any realistic number of replays.
__device__ __forceinline__ void GridBarrier(unsigned long long* counter, unsigned long long* generation) {
  __syncthreads();  // the whole block is done with the phase (and with its shared memory)
  if (threadIdx.x == 0) {
    cuda::atomic_ref<unsigned long long, cuda::thread_scope_device> count(*counter);
    cuda::atomic_ref<unsigned long long, cuda::thread_scope_device> gen(*generation);
    const unsigned long long blocks = gridDim.x;
    const unsigned long long arrived = count.fetch_add(1, cuda::memory_order_acq_rel);
    const unsigned long long target = arrived / blocks + 1;  // the generation this barrier opens
    if (arrived + 1 == target * blocks) {
      gen.store(target, cuda::memory_order_release);
    } else {
      while (gen.load(cuda::memory_order_acquire) < target) {
      }
    }
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads) PhaseKernel(const uint4* __restrict__ src, uint64_t n16,
                                                        uint32_t* __restrict__ sink) {
  // The contract of launch_after_previous.cuh: the next phase may launch now; this one
  // reads only after the previous phase finished (the dependency a decode step has).
  LetNextKernelLaunch();
  WaitForPreviousKernel();
  __shared__ uint32_t warps[kWarps];
  const uint32_t x = BlockXor(XorShare(src, n16), warps);
  if (threadIdx.x == 0) sink[blockIdx.x] = x;
}

template <bool kPrefetch>
__global__ void __launch_bounds__(kThreads)
    PersistentKernel(const uint4* __restrict__ base, const BoundaryPhase* __restrict__ phases, int n_phases,
                     uint32_t* __restrict__ sink, int sink_stride, unsigned long long* barrier) {
  __shared__ uint32_t warps[kWarps];
  for (int p = 0; p < n_phases; ++p) {
    const BoundaryPhase phase = phases[p];
    const uint32_t x = BlockXor(XorShare(base + phase.offset16, phase.n16), warps);
    if (threadIdx.x == 0) sink[static_cast<uint64_t>(p) * sink_stride + blockIdx.x] = x;
    if (p + 1 == n_phases) break;
    if constexpr (kPrefetch) {
      const BoundaryPhase next = phases[p + 1];
      PrefetchShareToL2(base + next.offset16, next.n16);
    }
    GridBarrier(barrier, barrier + kBoundaryBarrierWords / 2);
  }
}

cudaError_t ResidentBlocks(const void* kernel, int* blocks) {
  int device = 0, sms = 0, per_sm = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0);
  *blocks = per_sm * sms;
  return err;
}

}  // namespace

cudaError_t BoundaryPhaseKernelResidentBlocks(int* blocks) {
  return ResidentBlocks(reinterpret_cast<const void*>(PhaseKernel), blocks);
}

cudaError_t BoundaryPersistentResidentBlocks(bool prefetch, int* blocks) {
  return ResidentBlocks(prefetch ? reinterpret_cast<const void*>(PersistentKernel<true>)
                                 : reinterpret_cast<const void*>(PersistentKernel<false>),
                        blocks);
}

int BoundaryPhaseBlocks(uint64_t n16, int resident) {
  const uint64_t wanted = (n16 + kThreads - 1) / kThreads;
  return static_cast<int>(std::max<uint64_t>(1, std::min<uint64_t>(wanted, static_cast<uint64_t>(resident))));
}

cudaError_t LaunchBoundaryPhase(const void* base, BoundaryPhase phase, int blocks, uint32_t* sink,
                                cudaStream_t stream) {
  return LaunchAfterPrevious(PhaseKernel, dim3(blocks), dim3(kThreads), 0, stream,
                             static_cast<const uint4*>(base) + phase.offset16, phase.n16, sink);
}

cudaError_t LaunchBoundaryPersistent(const void* base, const BoundaryPhase* phases, int n_phases, uint32_t* sink,
                                     int sink_stride, unsigned long long* barrier, int blocks, bool prefetch,
                                     cudaStream_t stream) {
  // Cooperative: the launch fails rather than start more blocks than can be resident at
  // once (the grid barrier would then never open).
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeCooperative;
  attribute.val.cooperative = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(blocks);
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = 0;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  const uint4* words = static_cast<const uint4*>(base);
  return prefetch ? cudaLaunchKernelEx(&config, PersistentKernel<true>, words, phases, n_phases, sink, sink_stride,
                                       barrier)
                  : cudaLaunchKernelEx(&config, PersistentKernel<false>, words, phases, n_phases, sink, sink_stride,
                                       barrier);
}

}  // namespace tandem::cuda_detail
