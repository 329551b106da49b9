// Rotary position embedding, NEOX style with partial rotation and YaRN, on the GPU: the
// CUDA twin of kernels/cpu/rope.h (same angle recurrence, same YaRN ramp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cpu/rope.h"

namespace tandem {

// Rotates x: device f32 [n_tokens, n_heads, head_dim] in place, token t at position
// pos0 + t: in each head the pairs (i, i + n_rot / 2) for i < n_rot / 2; dims >= n_rot
// pass through. params.n_rot must be even and <= head_dim.
cudaError_t RopeNeox(const RopeParams& params, float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                     int64_t pos0, cudaStream_t stream);

}  // namespace tandem
