// Programmatic dependent launch (sm_90 and later, DGX Spark's sm_121 included): a kernel
// queued with LaunchAfterPrevious may start while the kernel before it on the stream is
// still running, so its launch latency and whatever it does before WaitForPreviousKernel
// (reading weights, which no kernel writes) overlap the previous kernel's tail. Inside a
// captured CUDA graph the launch becomes a programmatic edge.
//
// The contract every kernel launched this way keeps: it calls WaitForPreviousKernel before
// touching memory another kernel writes or reads, and before any thread exits, so a grid
// never completes before the one it follows (the next kernel's wait covers all earlier ones).
// Launched the ordinary way (or on an older GPU) the wait is a no-op.
#pragma once

#include <cuda_runtime.h>

#include <utility>

namespace tandem::cuda_detail {

// Returns once the previous kernel on the stream has finished and its writes are visible.
__device__ __forceinline__ void WaitForPreviousKernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next kernel on the stream launch now: it then waits in WaitForPreviousKernel
// until this one has finished. Called at the start: every block of this grid is then resident.
__device__ __forceinline__ void LetNextKernelLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Both of the above, for kernels with nothing to do before the wait.
__device__ __forceinline__ void StartAfterPreviousKernel() {
  LetNextKernelLaunch();
  WaitForPreviousKernel();
}

// kernel<<<grid, block, shared, stream>>>(args...) with programmatic stream serialization.
template <class... Params, class... Args>
cudaError_t LaunchAfterPrevious(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared,
                                cudaStream_t stream, Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, kernel, static_cast<Params>(std::forward<Args>(args))...);
}

}  // namespace tandem::cuda_detail
