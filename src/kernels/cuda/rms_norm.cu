// One block per row: a double block-sum of the f32 squares, then the scaled row. A block
// has about one thread per 4 values of the row (RowThreads): a decode step's rows are one
// token's 2048-6144 values, and their norm is a chain of latencies, not of bandwidth.
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/rms_norm_math.cuh"
#include "kernels/cuda/warp_reduce.cuh"

namespace tandem {
namespace {

constexpr int kMaxThreads = 1024;

int RowThreads(int64_t n) { return static_cast<int>(std::clamp<int64_t>((n / 4 + 31) / 32 * 32, 32, kMaxThreads)); }

__device__ double RowSumSquares(const float* x, int n) {
  __shared__ double scratch[32];
  double sum = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) sum += cuda_detail::Square(x[i]);
  return cuda_detail::BlockSum(sum, scratch);
}

// y = x * (1 / sqrt(sum / n_total + eps)) * w, rounded step by step like RmsNormApply.
__device__ void ApplyScale(const float* x, const float* w, int n, double sum, int64_t n_total, float eps, float* y) {
  const float scale = cuda_detail::RmsScale(sum, n_total, eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] = cuda_detail::RmsApply(x[i], scale, w, i);
}

__global__ void __launch_bounds__(kMaxThreads) RmsNormKernel(const float* x, const float* w, int n, float eps, float* y) {
  cuda_detail::StartAfterPreviousKernel();
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * n;
  const double sum = RowSumSquares(x + offset, n);
  ApplyScale(x + offset, w, n, sum, n, eps, y + offset);
}

// Each thread reads back only the elements it summed, so no barrier separates the add
// from the scaling but BlockSum's own.
__global__ void __launch_bounds__(kMaxThreads) AddRmsNormKernel(float* x, const float* add, const float* w, int n,
                                                            float eps, float* y) {
  cuda_detail::StartAfterPreviousKernel();
  __shared__ double scratch[32];
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * n;
  x += offset;
  add += offset;
  double sum = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = __fadd_rn(x[i], add[i]);
    x[i] = v;
    sum += cuda_detail::Square(v);
  }
  ApplyScale(x, w, n, cuda_detail::BlockSum(sum, scratch), n, eps, y + offset);
}

__global__ void __launch_bounds__(kMaxThreads) SumSquaresKernel(const float* x, int n, float* sums) {
  cuda_detail::StartAfterPreviousKernel();
  const double sum = RowSumSquares(x + static_cast<int64_t>(blockIdx.x) * n, n);
  if (threadIdx.x == 0) sums[blockIdx.x] = static_cast<float>(sum);
}

}  // namespace

cudaError_t RmsNormRows(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y,
                        cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  return cuda_detail::LaunchAfterPrevious(RmsNormKernel, static_cast<unsigned>(rows), RowThreads(n), 0, stream, x, w,
                                          static_cast<int>(n), eps, y);
}

cudaError_t AddRmsNormRows(float* x, const float* add, const float* w, int64_t rows, int64_t n, float eps, float* y,
                           cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  return cuda_detail::LaunchAfterPrevious(AddRmsNormKernel, static_cast<unsigned>(rows), RowThreads(n), 0, stream, x,
                                          add, w, static_cast<int>(n), eps, y);
}

cudaError_t SumSquaresRows(const float* x, int64_t rows, int64_t n, float* sums, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  return cuda_detail::LaunchAfterPrevious(SumSquaresKernel, static_cast<unsigned>(rows), RowThreads(n), 0, stream, x,
                                          static_cast<int>(n), sums);
}

}  // namespace tandem
