// The sum of every rank's buffer, in rank order, on the GPU: the arithmetic of the
// in-process device collective (net/device_collective.h).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem {

// out[i] = (((0 + inputs[0][i]) + inputs[1][i]) + ...) + inputs[n_inputs - 1][i], each
// addition an f32 add rounded to nearest: the bits of the host's in-order sum from 0.0f
// (InProcessCollective, UcxCollective), whatever the number of inputs.
// inputs: host array of n_inputs device pointers, each f32 [n] readable from the
// stream's device; out: device f32 [n], not one of the inputs.
cudaError_t SumInRankOrder(const float* const* inputs, int n_inputs, int64_t n, float* out, cudaStream_t stream);

}  // namespace tandem
