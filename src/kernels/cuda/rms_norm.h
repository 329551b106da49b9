// RMS normalisation of rows on the GPU: the CUDA twin of kernels/cpu/rms_norm.h. Squares
// are accumulated in double and the scale applied in f32 like the CPU, so results agree
// to the last bits but for the order of the double sum.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem {

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w for each of `rows` rows of n.
// x, y: device f32 [rows, n] (y may be x); w: device f32 [n] or null (no weight).
cudaError_t RmsNormRows(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y,
                        cudaStream_t stream);

// x[r] += add[r], then y[r] = RmsNorm(x[r]) * w, for each of `rows` rows of n: the residual
// add and the next block's input norm in one pass. x, add, y: device f32 [rows, n]
// (y not x); w: device f32 [n] or null.
cudaError_t AddRmsNormRows(float* x, const float* add, const float* w, int64_t rows, int64_t n, float eps, float* y,
                           cudaStream_t stream);

// sums[r] = sum of squares of row r of x: [rows, n] (as f32, accumulated in double).
cudaError_t SumSquaresRows(const float* x, int64_t rows, int64_t n, float* sums, cudaStream_t stream);

}  // namespace tandem
