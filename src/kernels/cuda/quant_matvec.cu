// Kernels behind QuantMatMul (quant_matvec.h): the staged warp-per-row GEMV for every
// format of quant_formats.cuh, and a plain one for float rows of odd length.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/quant_formats.cuh"
#include "kernels/cuda/quant_matvec_common.cuh"
#include "kernels/cuda/quant_matvec_launch.h"
#include "kernels/cuda/swiglu_math.cuh"

namespace tandem::cuda_detail {
namespace {

constexpr int kWarps = 8;               // warps per block; each owns its rows
constexpr int kThreads = 32 * kWarps;
constexpr int kStepTargetBytes = 2048;  // bytes of a row a warp stages per step

// Groups of 256 elements per step, and the 16-byte words each lane loads per step
// (a step's bytes start anywhere inside a 16-byte word and end anywhere in another).
template <class F>
constexpr int StepGroups() {
  return std::max(1, (kStepTargetBytes - 16) / F::kGroupBytes);
}
template <class F>
constexpr int WordsPerLane() {
  return (StepGroups<F>() * F::kGroupBytes + 30) / 16 / 32 + 1;
}

// x as the CPU's RoundActivationsLikeGgml leaves it for F16 / BF16 weights.
template <GgmlType T>
__device__ __forceinline__ float RoundLikeWeights(float v) {
  if constexpr (T == GgmlType::F16) return __half2float(__float2half_rn(v));
  if constexpr (T == GgmlType::BF16) return __bfloat162float(__float2bfloat16_rn(v));
  return v;
}
template <GgmlType T>
__device__ __forceinline__ float4 Round4(float4 v) {
  return make_float4(RoundLikeWeights<T>(v.x), RoundLikeWeights<T>(v.y), RoundLikeWeights<T>(v.z),
                     RoundLikeWeights<T>(v.w));
}

// y[t][r] = dot(row r, x[t]) for t < n_tokens (<= NT), rows walked in steps of G groups
// (WalkStagedRows); each lane decodes 8 elements of each group and dots them with x
// (SwiGLU(x, x_up) when x_up is given), rounded to the weight type first when kRoundX is
// F16 / BF16.
template <class F, int NT, GgmlType kRoundX = GgmlType::F32>
__global__ void __launch_bounds__(kThreads) QuantMatMulKernel(const uint8_t* __restrict__ w, int rows, int cols,
                                                               uint64_t row_stride, uint64_t row_bytes,
                                                               const float* __restrict__ x, const float* __restrict__ x_up,
                                                               int n_tokens, float* __restrict__ y,
                                                               ExpertIndex experts) {
  if (experts.ids != nullptr) WaitForPreviousKernel();  // the ids are the router's output
  LetNextKernelLaunch();
  const ExpertPick pick = PickExpert(experts, w, x, x_up, y, rows, cols);
  if (!pick.held) return;  // before any barrier: the whole block leaves
  w = pick.w;
  x = pick.x;
  x_up = pick.x_up;
  y = pick.y;
  constexpr int G = StepGroups<F>();
  constexpr int kWords = WordsPerLane<F>();
  constexpr int kStepBytes = G * F::kGroupBytes;
  __shared__ __align__(16) uint8_t staged[kWarps][kWords * 32 * 16 + 16];  // +16: LoadU64 reads past the end

  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int groups = (cols + kGroupElems - 1) / kGroupElems;
  const int steps = (groups + G - 1) / G;
  uint8_t* s = staged[warp];
  WalkStagedRows<kWords, kStepBytes, NT>(
      w, rows, row_stride, row_bytes, steps, blockIdx.x * kWarps + warp, gridDim.x * kWarps, s, n_tokens, y,
      [] { WaitForPreviousKernel(); },
      [&](int shift, int step, float(&acc)[NT]) {
        const int first_group = step * G;
#pragma unroll 2
        for (int g = 0; g < G; ++g) {
          const int e = (first_group + g) * kGroupElems + kLaneElems * lane;
          if (first_group + g < groups && e < cols) {
            float q[kLaneElems], scale, offset = 0.0f;
            F::Decode(s, shift + g * F::kGroupBytes, lane, q, scale, offset);
#pragma unroll
            for (int t = 0; t < NT; ++t) {
              if (t < n_tokens) {
                const int64_t at = static_cast<int64_t>(t) * cols + e;
                const float4* xp = reinterpret_cast<const float4*>(x + at);
                float4 a = __ldg(xp), b = __ldg(xp + 1);
                if (x_up != nullptr) {
                  const float4* up = reinterpret_cast<const float4*>(x_up + at);
                  a = SwiGlu4(a, __ldg(up));
                  b = SwiGlu4(b, __ldg(up + 1));
                }
                if constexpr (kRoundX != GgmlType::F32) {
                  a = Round4<kRoundX>(a);
                  b = Round4<kRoundX>(b);
                }
                float dot = q[0] * a.x;
                dot = fmaf(q[1], a.y, dot);
                dot = fmaf(q[2], a.z, dot);
                dot = fmaf(q[3], a.w, dot);
                dot = fmaf(q[4], b.x, dot);
                dot = fmaf(q[5], b.y, dot);
                dot = fmaf(q[6], b.z, dot);
                dot = fmaf(q[7], b.w, dot);
                acc[t] = fmaf(scale, dot, acc[t]);
                if constexpr (F::kOffset) {
                  const float sum = ((a.x + a.y) + (a.z + a.w)) + ((b.x + b.y) + (b.z + b.w));
                  acc[t] = fmaf(offset, sum, acc[t]);
                }
              }
            }
          }
        }
      });
}

// Float rows whose length or alignment rules out 8-wide reads: one warp per row, lane
// strided over the elements.
template <GgmlType T, int NT, bool kRoundX>
__global__ void __launch_bounds__(kThreads) FloatMatMulKernel(const uint8_t* __restrict__ w, int rows, int cols,
                                                               uint64_t row_stride, const float* __restrict__ x,
                                                               const float* __restrict__ x_up, int n_tokens,
                                                               float* __restrict__ y, ExpertIndex experts) {
  StartAfterPreviousKernel();
  const ExpertPick pick = PickExpert(experts, w, x, x_up, y, rows, cols);
  if (!pick.held) return;  // before any barrier: the whole block leaves
  w = pick.w;
  x = pick.x;
  x_up = pick.x_up;
  y = pick.y;
  const int lane = threadIdx.x & 31;
  for (int row = blockIdx.x * kWarps + (threadIdx.x >> 5); row < rows; row += gridDim.x * kWarps) {
    const uint8_t* p = w + static_cast<uint64_t>(row) * row_stride;
    float acc[NT] = {};
    for (int c = lane; c < cols; c += 32) {
      float v;
      if constexpr (T == GgmlType::F32) {
        v = reinterpret_cast<const float*>(p)[c];
      } else {
        const unsigned short bits = reinterpret_cast<const unsigned short*>(p)[c];
        v = T == GgmlType::BF16 ? __uint_as_float(static_cast<uint32_t>(bits) << 16) : __half2float(__ushort_as_half(bits));
      }
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        if (t < n_tokens) {
          const int64_t at = static_cast<int64_t>(t) * cols + c;
          const float xv = x_up != nullptr ? SwiGlu(x[at], x_up[at]) : x[at];
          acc[t] = fmaf(v, kRoundX ? RoundLikeWeights<T>(xv) : xv, acc[t]);
        }
      }
    }
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const float v = WarpSum(acc[t]);
      if (lane == 0 && t < n_tokens) y[static_cast<int64_t>(t) * rows + row] = v;
    }
  }
}

// Blocks to launch: enough for every row's warp, at most what fills the device once.
template <class Kernel>
cudaError_t GridSize(Kernel kernel, int rows, int n_products, int* blocks) {
  int device = 0, sms = 0, per_sm = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0);
  if (err != cudaSuccess) return err;
  const int wanted = (rows + kWarps - 1) / kWarps;
  *blocks = BlocksPerProduct(wanted, sms * std::max(per_sm, 1), n_products);
  return cudaSuccess;
}

template <int NT, GgmlType T>
cudaError_t LaunchFormat(const QuantMatMulArgs& a, cudaStream_t stream) {
  using F = Format<T>;
  const bool float_type = T == GgmlType::F32 || T == GgmlType::F16 || T == GgmlType::BF16;
  const bool wide_ok = a.cols % kLaneElems == 0 && reinterpret_cast<uintptr_t>(a.x) % 16 == 0;
  int blocks = 0;
  if constexpr (T == GgmlType::F32 || T == GgmlType::F16 || T == GgmlType::BF16) {
    if (float_type && !wide_ok) {
      auto kernel = a.rounding == ActivationRounding::kLikeGgml ? FloatMatMulKernel<T, NT, true>
                                                                 : FloatMatMulKernel<T, NT, false>;
      if (cudaError_t err = GridSize(kernel, static_cast<int>(a.rows), a.experts.products(), &blocks);
          err != cudaSuccess) {
        return err;
      }
      return LaunchAfterPrevious(kernel, dim3(blocks, a.experts.products()), kThreads, 0, stream, a.w,
                                 static_cast<int>(a.rows), static_cast<int>(a.cols), a.row_stride, a.x, a.x_up,
                                 a.n_tokens, a.y, a.experts);
    }
  }
  const uint64_t row_bytes = static_cast<uint64_t>(a.cols) / kGroupElems * F::kGroupBytes +
                             static_cast<uint64_t>(a.cols % kGroupElems) * F::kGroupBytes / kGroupElems;
  auto kernel = QuantMatMulKernel<F, NT>;
  if constexpr (T == GgmlType::F16 || T == GgmlType::BF16) {
    if (a.rounding == ActivationRounding::kLikeGgml) kernel = QuantMatMulKernel<F, NT, T>;
  }
  if (cudaError_t err = GridSize(kernel, static_cast<int>(a.rows), a.experts.products(), &blocks);
      err != cudaSuccess) {
    return err;
  }
  return LaunchAfterPrevious(kernel, dim3(blocks, a.experts.products()), kThreads, 0, stream, a.w,
                             static_cast<int>(a.rows), static_cast<int>(a.cols), a.row_stride, row_bytes, a.x, a.x_up,
                             a.n_tokens, a.y, a.experts);
}

template <int NT>
cudaError_t LaunchTokens(const QuantMatMulArgs& a, cudaStream_t stream) {
  switch (a.type) {
    case GgmlType::F32: return LaunchFormat<NT, GgmlType::F32>(a, stream);
    case GgmlType::F16: return LaunchFormat<NT, GgmlType::F16>(a, stream);
    case GgmlType::BF16: return LaunchFormat<NT, GgmlType::BF16>(a, stream);
    case GgmlType::Q4_0: return LaunchFormat<NT, GgmlType::Q4_0>(a, stream);
    case GgmlType::Q4_1: return LaunchFormat<NT, GgmlType::Q4_1>(a, stream);
    case GgmlType::Q5_0: return LaunchFormat<NT, GgmlType::Q5_0>(a, stream);
    case GgmlType::Q5_1: return LaunchFormat<NT, GgmlType::Q5_1>(a, stream);
    case GgmlType::Q8_0: return LaunchFormat<NT, GgmlType::Q8_0>(a, stream);
    case GgmlType::Q2_K: return LaunchFormat<NT, GgmlType::Q2_K>(a, stream);
    case GgmlType::Q3_K: return LaunchFormat<NT, GgmlType::Q3_K>(a, stream);
    case GgmlType::Q4_K: return LaunchFormat<NT, GgmlType::Q4_K>(a, stream);
    case GgmlType::Q5_K: return LaunchFormat<NT, GgmlType::Q5_K>(a, stream);
    case GgmlType::Q6_K: return LaunchFormat<NT, GgmlType::Q6_K>(a, stream);
    case GgmlType::IQ4_NL: return LaunchFormat<NT, GgmlType::IQ4_NL>(a, stream);
    case GgmlType::IQ4_XS: return LaunchFormat<NT, GgmlType::IQ4_XS>(a, stream);
    case GgmlType::MXFP4: return LaunchFormat<NT, GgmlType::MXFP4>(a, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t LaunchQuantMatMul(const QuantMatMulArgs& args, cudaStream_t stream) {
  // Kernels for 1, 2, 4 and 8 tokens; a count in between runs the next larger one.
  if (args.n_tokens <= 1) return LaunchTokens<1>(args, stream);
  if (args.n_tokens <= 2) return LaunchTokens<2>(args, stream);
  if (args.n_tokens <= 4) return LaunchTokens<4>(args, stream);
  return LaunchTokens<8>(args, stream);
}

}  // namespace tandem::cuda_detail
