// SwiGLU on the GPU: the CUDA twin of kernels/cpu/swiglu.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem {

// out[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i];
// gate, up, out: device f32 [n] (out may be gate).
cudaError_t SwiGluVectors(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream);

}  // namespace tandem
