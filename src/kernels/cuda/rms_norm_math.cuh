// RMS norm arithmetic shared by the norm kernels (rms_norm.cu, head_norm_rope.cu), rounded
// step by step like the CPU's RmsNormApply so the two agree bit for bit.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tandem::cuda_detail {

// The square of x as the CPU adds it to its double sum of squares.
__device__ __forceinline__ double Square(float x) { return static_cast<double>(__fmul_rn(x, x)); }

// 1 / sqrt(sum_squares / n_total + eps).
__device__ __forceinline__ float RmsScale(double sum_squares, int64_t n_total, float eps) {
  const float mean = static_cast<float>(sum_squares / static_cast<double>(n_total));
  return 1.0f / sqrtf(__fadd_rn(mean, eps));
}

// x * scale, times w when there is one.
__device__ __forceinline__ float RmsApply(float x, float scale, const float* w, int i) {
  const float v = __fmul_rn(x, scale);
  return w ? __fmul_rn(v, w[i]) : v;
}

}  // namespace tandem::cuda_detail
