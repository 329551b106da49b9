// Elementwise residual add on the GPU.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem {

// x += y over n elements; x, y: device f32 [n].
cudaError_t AddInPlace(float* x, const float* y, int64_t n, cudaStream_t stream);

}  // namespace tandem
