// Launchers of bandwidth_probe.cu, called by bandwidth_probe.cc only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem::cuda_detail {

// dst[i] = src[i] for n16 16-byte words.
cudaError_t LaunchCopy16(const void* src, void* dst, uint64_t n16, cudaStream_t stream);
// Reads n16 16-byte words of src; writes `sink` only if the data sums to an impossible value.
cudaError_t LaunchRead16(const void* src, uint64_t n16, float* sink, cudaStream_t stream);
cudaError_t LaunchFillRandom(void* dst, uint64_t bytes, uint64_t seed, cudaStream_t stream);

}  // namespace tandem::cuda_detail
