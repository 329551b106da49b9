// Embedding rows: one block per token stages its row's bytes in shared memory, then each
// warp decodes whole 256-element groups with the matrix-vector decoders
// (quant_formats.cuh), lane l writing elements [8l, 8l + 8) of a group.
#include <cuda_runtime.h>

#include "kernels/cuda/embed.h"
#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/quant_formats.cuh"

namespace tandem {
namespace {

using cuda_detail::Format;
using cuda_detail::kGroupElems;
using cuda_detail::kLaneElems;

constexpr int kThreads = 256;

template <GgmlType T>
__global__ void __launch_bounds__(kThreads) EmbedKernel(const uint8_t* __restrict__ table, uint64_t row_stride,
                                                       int cols, uint64_t row_bytes, const int32_t* __restrict__ ids,
                                                       float* __restrict__ x) {
  cuda_detail::StartAfterPreviousKernel();
  using F = Format<T>;
  extern __shared__ __align__(16) uint8_t staged[];  // row_bytes + 16 (decoders read past the end)
  const int t = blockIdx.x;
  const uint8_t* row = table + static_cast<uint64_t>(ids[t]) * row_stride;
  for (uint64_t i = threadIdx.x; i < row_bytes; i += kThreads) staged[i] = row[i];
  if (threadIdx.x < 16) staged[row_bytes + threadIdx.x] = 0;
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int groups = (cols + kGroupElems - 1) / kGroupElems;
  float* out = x + static_cast<int64_t>(t) * cols;
  for (int g = warp; g < groups; g += kThreads / 32) {
    const int e = g * kGroupElems + kLaneElems * lane;
    if (e >= cols) continue;
    float q[kLaneElems], scale, offset = 0.0f;
    F::Decode(staged, g * F::kGroupBytes, lane, q, scale, offset);
#pragma unroll
    for (int i = 0; i < kLaneElems; ++i) out[e + i] = __fadd_rn(__fmul_rn(scale, q[i]), offset);  // unfused, like the CPU
  }
}

// Float tables of any length: element by element.
template <GgmlType T>
__global__ void __launch_bounds__(kThreads) EmbedFloatKernel(const uint8_t* __restrict__ table, uint64_t row_stride,
                                                            int cols, const int32_t* __restrict__ ids,
                                                            float* __restrict__ x) {
  cuda_detail::StartAfterPreviousKernel();
  const int t = blockIdx.x;
  const uint8_t* row = table + static_cast<uint64_t>(ids[t]) * row_stride;
  float* out = x + static_cast<int64_t>(t) * cols;
  for (int c = threadIdx.x; c < cols; c += kThreads) {
    if constexpr (T == GgmlType::F32) {
      out[c] = reinterpret_cast<const float*>(row)[c];
    } else {
      const unsigned short bits = reinterpret_cast<const unsigned short*>(row)[c];
      out[c] = T == GgmlType::BF16 ? __uint_as_float(static_cast<uint32_t>(bits) << 16)
                                   : __half2float(__ushort_as_half(bits));
    }
  }
}

template <GgmlType T>
cudaError_t Launch(const uint8_t* table, uint64_t row_stride, int64_t cols, const int32_t* ids, int64_t n_tokens,
                   float* x, cudaStream_t stream) {
  if constexpr (T == GgmlType::F32 || T == GgmlType::F16 || T == GgmlType::BF16) {
    return cuda_detail::LaunchAfterPrevious(EmbedFloatKernel<T>, static_cast<unsigned>(n_tokens), kThreads, 0, stream,
                                            table, row_stride, static_cast<int>(cols), ids, x);
  } else {
    const uint64_t row_bytes = RowBytes(T, static_cast<uint64_t>(cols));
    const size_t shared = static_cast<size_t>(row_bytes + 16);
    if (shared > 48 * 1024) return cudaErrorInvalidValue;  // rows over ~48 KB: not an embedding
    return cuda_detail::LaunchAfterPrevious(EmbedKernel<T>, static_cast<unsigned>(n_tokens), kThreads, shared, stream,
                                            table, row_stride, static_cast<int>(cols), row_bytes, ids, x);
  }
}

}  // namespace

cudaError_t EmbedRows(GgmlType type, const uint8_t* table, uint64_t row_stride, int64_t cols, const int32_t* ids,
                      int64_t n_tokens, float* x, cudaStream_t stream) {
  if (n_tokens <= 0) return cudaSuccess;
  switch (type) {
    case GgmlType::F32: return Launch<GgmlType::F32>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::F16: return Launch<GgmlType::F16>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::BF16: return Launch<GgmlType::BF16>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q4_0: return Launch<GgmlType::Q4_0>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q4_1: return Launch<GgmlType::Q4_1>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q5_0: return Launch<GgmlType::Q5_0>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q5_1: return Launch<GgmlType::Q5_1>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q8_0: return Launch<GgmlType::Q8_0>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q2_K: return Launch<GgmlType::Q2_K>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q3_K: return Launch<GgmlType::Q3_K>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q4_K: return Launch<GgmlType::Q4_K>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q5_K: return Launch<GgmlType::Q5_K>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::Q6_K: return Launch<GgmlType::Q6_K>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::IQ4_NL: return Launch<GgmlType::IQ4_NL>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::IQ4_XS: return Launch<GgmlType::IQ4_XS>(table, row_stride, cols, ids, n_tokens, x, stream);
    case GgmlType::MXFP4: return Launch<GgmlType::MXFP4>(table, row_stride, cols, ids, n_tokens, x, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace tandem
