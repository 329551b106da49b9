// Whether a pointer is CUDA device memory, for code that takes host or device buffers.
#pragma once

#include <cuda_runtime_api.h>

namespace tandem {

// Device (or managed) memory; false for host memory, pinned or not, and for pointers CUDA
// does not know (the lookup's error is cleared).
inline bool IsDeviceMemory(const void* p) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

}  // namespace tandem
