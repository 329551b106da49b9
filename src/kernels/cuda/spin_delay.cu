// SpinDelay: one block of one thread polls %globaltimer (nanoseconds).
#include <cuda_runtime.h>

#include "kernels/cuda/spin_delay.h"

namespace tandem {
namespace {

__device__ __forceinline__ uint64_t GlobalTimerNs() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void SpinDelayKernel(int64_t ns) {
  const uint64_t start = GlobalTimerNs();
  while (GlobalTimerNs() - start < static_cast<uint64_t>(ns)) {
  }
}

}  // namespace

cudaError_t SpinDelay(int64_t ns, cudaStream_t stream) {
  if (ns <= 0) return cudaSuccess;
  SpinDelayKernel<<<1, 1, 0, stream>>>(ns);
  return cudaGetLastError();
}

}  // namespace tandem
