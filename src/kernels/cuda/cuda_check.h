// cudaError_t -> tandem::Status, naming the call and where it was made. Host C++ only
// (status.h pulls in fmt); .cu files return cudaError_t to a .cc that wraps it here.
#pragma once

#include <cuda_runtime_api.h>

#include "common/status.h"

namespace tandem {

inline Status CudaStatus(cudaError_t error, const char* call, const char* file, int line) {
  if (error == cudaSuccess) return Status::Ok();
  return Status::Error("{} failed: {} ({}) at {}:{}", call, cudaGetErrorName(error), cudaGetErrorString(error),
                       file, line);
}

}  // namespace tandem

// Return a Status from the enclosing function if the CUDA call `expr` failed.
#define TANDEM_CUDA_TRY(expr)                                                          \
  do {                                                                                 \
    ::tandem::Status _cuda_st = ::tandem::CudaStatus((expr), #expr, __FILE__, __LINE__); \
    if (!_cuda_st.ok()) return _cuda_st;                                               \
  } while (0)
