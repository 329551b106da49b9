// The int8-activation matrix x vector kernel (ActivationRounding::kLikeGgml) for every
// quantized format of quant_formats_q8.cuh.
//
// Each block first rounds its activations into shared memory exactly like the CPU's
// RoundActivationsLikeGgml (int8 q, the f32 scale of each 32 elements, the int sum of each
// 16 q's). Then, like the f32 kernel, each warp walks its rows in steps of 8 groups of 256
// elements staged through shared memory with coalesced 16-byte loads (any alignment), the
// next step's loads in flight while the lanes compute. A lane takes runs of 32 elements
// (4 slots of one 32-element activation block): it decodes the run's scales once, and dots
// its quants with the int8 activations 4 at a time (dp4a):
//   sum_i w_i x_i = dx * sum_scales (scale * (dot(q, qx) - kBias * sum(qx)) + offset * sum(qx))
// with the integer parts exact, so the result differs from the CPU twin by f32 rounding only.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/quant_formats_q8.cuh"
#include "kernels/cuda/quant_matvec_common.cuh"
#include "kernels/cuda/quant_matvec_launch.h"
#include "kernels/cuda/swiglu_math.cuh"

namespace tandem::cuda_detail {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kStepGroups = 8;                 // groups of 256 per staging step
constexpr int kRunsPerLane = kStepGroups / 4;  // 8 runs of 32 per group, 32 lanes

template <class F>
constexpr int Q8WordsPerLane() {
  return (kStepGroups * F::kGroupBytes + 30) / 16 / 32 + 1;
}

// dot of 4 weight bytes (uint8 or int8) with 4 int8 activations, plus c.
template <bool kSigned>
__device__ __forceinline__ int Dot4(uint32_t w, uint32_t x, int c) {
  if constexpr (kSigned) {
    return __dp4a(static_cast<int>(w), static_cast<int>(x), c);
  } else {
    int d;
    asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(w), "r"(x), "r"(c));
    return d;
  }
}

// The activations of one block in shared memory (Q8SharedBytes): for n_tokens rows of
// cols, q [n_tokens][cols] int8, dx [n_tokens][cols / 32] f32, sums [n_tokens][cols / 16]
// int16 (sum of 16 q's).
struct SharedX {
  int8_t* q;
  float* dx;
  int16_t* sums;
  __device__ SharedX(uint8_t* base, int cols, int n_tokens)
      : q(reinterpret_cast<int8_t*>(base)),
        dx(reinterpret_cast<float*>(base + static_cast<int64_t>(n_tokens) * cols)),
        sums(reinterpret_cast<int16_t*>(base + static_cast<int64_t>(n_tokens) * cols * 9 / 8)) {}
};

// The 8 floats at x[f..f+8) -> q bytes (2 words) with per-element rounding `iscale`,
// clamped to 127 like Q8_K (Q8_0's values never pass 127), and their sum.
__device__ __forceinline__ void RoundEight(const float v[8], float iscale, uint32_t& lo, uint32_t& hi, int& sum) {
  int q[8];
  sum = 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    q[i] = static_cast<int>(fminf(127.0f, rintf(v[i] * iscale)));
    sum += q[i];
  }
  lo = (q[0] & 255) | (q[1] & 255) << 8 | (q[2] & 255) << 16 | static_cast<uint32_t>(q[3] & 255) << 24;
  hi = (q[4] & 255) | (q[5] & 255) << 8 | (q[6] & 255) << 16 | static_cast<uint32_t>(q[7] & 255) << 24;
}

// Rounds x [n_tokens, cols] (SwiGLU(x, x_up) when x_up is given) into `sx`, all threads of
// the block taking part (no early exits before this). kPer256: Q8_K (scale -127 / the
// signed value of largest magnitude, its first occurrence; d = 1 / scale); else Q8_0
// (d = f16(amax / 127), q = x * 127 / amax).
template <bool kPer256>
__device__ void RoundActivationsToShared(const float* __restrict__ x, const float* __restrict__ x_up, int cols,
                                         int n_tokens, const SharedX& sx) {
  const int lane = threadIdx.x & 31;
  const int total = n_tokens * cols;  // a multiple of 256 (kPer256) or 32
  const int chunk = kPer256 ? 256 : 32 * kThreads / 4;
  const int first = kPer256 ? (threadIdx.x >> 5) * 256 : 0;
  const int stride = kPer256 ? kWarps * 256 : chunk;
  for (int base = first; base < total; base += stride) {
    const int f = kPer256 ? base + 8 * lane : base + 8 * static_cast<int>(threadIdx.x);
    const bool in = f < total;  // whole warps agree for kPer256, whole 4-lane blocks otherwise
    float v[8] = {};
    if (in) {
      float4 a = __ldg(reinterpret_cast<const float4*>(x + f));
      float4 b = __ldg(reinterpret_cast<const float4*>(x + f) + 1);
      if (x_up != nullptr) {
        a = SwiGlu4(a, __ldg(reinterpret_cast<const float4*>(x_up + f)));
        b = SwiGlu4(b, __ldg(reinterpret_cast<const float4*>(x_up + f) + 1));
      }
      v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
    }
    float iscale, d;
    if constexpr (kPer256) {
      float amax = 0.0f, max = 0.0f;
      int at = INT_MAX;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        if (fabsf(v[i]) > amax) amax = fabsf(v[i]), max = v[i], at = f + i;
      }
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const float a2 = __shfl_xor_sync(0xffffffffu, amax, o);
        const float m2 = __shfl_xor_sync(0xffffffffu, max, o);
        const int at2 = __shfl_xor_sync(0xffffffffu, at, o);
        if (a2 > amax || (a2 == amax && at2 < at)) amax = a2, max = m2, at = at2;
      }
      iscale = amax != 0.0f ? -127.0f / max : 0.0f;
      d = amax != 0.0f ? 1.0f / iscale : 0.0f;
    } else {
      float amax = 0.0f;
#pragma unroll
      for (int i = 0; i < 8; ++i) amax = fmaxf(amax, fabsf(v[i]));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
      d = __half2float(__float2half_rn(amax / 127.0f));
      iscale = amax != 0.0f ? 127.0f / amax : 0.0f;
    }
    uint32_t lo, hi;
    int sum;
    RoundEight(v, iscale, lo, hi, sum);
    const int pair_sum = sum + __shfl_xor_sync(0xffffffffu, sum, 1);
    if (in) {
      *reinterpret_cast<uint2*>(sx.q + f) = make_uint2(lo, hi);
      if ((f & 31) == 0) sx.dx[f >> 5] = d;
      if ((f & 15) == 0) sx.sums[f >> 4] = static_cast<int16_t>(pair_sum);
    }
  }
}

// Per-256 rounding for the K-quants and IQ4_XS, per-32 for the others (as the CPU's).
template <GgmlType T>
constexpr bool kPer256Rounding = T == GgmlType::Q2_K || T == GgmlType::Q3_K || T == GgmlType::Q4_K ||
                                 T == GgmlType::Q5_K || T == GgmlType::Q6_K || T == GgmlType::IQ4_XS;

// One run: slots 4 run_in_group .. + 3 of the group at s + off against activations x at
// element e of each token; adds dx * (its partial dot) to acc[t].
template <class F, int NT>
__device__ __forceinline__ void DotRun(const uint8_t* s, int off, int run, const SharedX& sx, int cols, int e,
                                       int n_tokens, float acc[NT]) {
  uint2 qw[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) qw[i] = F::Quants(s, off, 4 * run + i);
  constexpr int kScales = 4 / F::kSlotsPerScale;
  float scale[kScales], offset[kScales];
#pragma unroll
  for (int h = 0; h < kScales; ++h) {
    offset[h] = 0.0f;
    F::Scale(s, off, 4 * run + h * F::kSlotsPerScale, scale[h], offset[h]);
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t < n_tokens) {
      const int at = t * cols + e;
      const int4 a = *reinterpret_cast<const int4*>(sx.q + at);
      const int4 b = *reinterpret_cast<const int4*>(sx.q + at + 16);
      const uint32_t xw[8] = {static_cast<uint32_t>(a.x), static_cast<uint32_t>(a.y), static_cast<uint32_t>(a.z),
                              static_cast<uint32_t>(a.w), static_cast<uint32_t>(b.x), static_cast<uint32_t>(b.y),
                              static_cast<uint32_t>(b.z), static_cast<uint32_t>(b.w)};
      const uint32_t sums = *reinterpret_cast<const uint32_t*>(sx.sums + (at >> 4));
      const int sum16[2] = {static_cast<int16_t>(sums & 0xffffu), static_cast<int16_t>(sums >> 16)};
      float total = 0.0f;
#pragma unroll
      for (int h = 0; h < kScales; ++h) {
        constexpr int kWordsPerScale = 8 / kScales;
        int dot = 0;
#pragma unroll
        for (int k = 0; k < kWordsPerScale; ++k) {
          const int word = h * kWordsPerScale + k;
          dot = Dot4<F::kSigned>(word & 1 ? qw[word >> 1].y : qw[word >> 1].x, xw[word], dot);
        }
        const int qsum = kScales == 2 ? sum16[h] : sum16[0] + sum16[1];
        if constexpr (F::kBias != 0) dot -= F::kBias * qsum;
        total = fmaf(scale[h], static_cast<float>(dot), total);
        if constexpr (F::kOffset) total = fmaf(offset[h], static_cast<float>(qsum), total);
      }
      acc[t] = fmaf(sx.dx[at >> 5], total, acc[t]);
    }
  }
}

template <GgmlType T, int NT>
__global__ void __launch_bounds__(kThreads) QuantMatMulQ8Kernel(const uint8_t* __restrict__ w, int rows, int cols,
                                                                 uint64_t row_stride, uint64_t row_bytes,
                                                                 const float* __restrict__ x,
                                                                 const float* __restrict__ x_up, int n_tokens,
                                                                 float* __restrict__ y, ExpertIndex experts) {
  using F = FormatQ8<T>;
  if (experts.ids != nullptr) WaitForPreviousKernel();  // the ids are the router's output
  LetNextKernelLaunch();
  const ExpertPick pick = PickExpert(experts, w, x, x_up, y, rows, cols);
  if (!pick.held) return;  // before any barrier: the whole block leaves
  w = pick.w;
  x = pick.x;
  x_up = pick.x_up;
  y = pick.y;
  constexpr int kWords = Q8WordsPerLane<F>();
  constexpr int kStepBytes = kStepGroups * F::kGroupBytes;
  __shared__ __align__(16) uint8_t staged[kWarps][kWords * 32 * 16 + 16];  // +16: LoadU64 reads past the end
  extern __shared__ __align__(16) uint8_t dynamic_shared[];
  const SharedX sx(dynamic_shared, cols, n_tokens);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int groups = (cols + kGroupElems - 1) / kGroupElems;
  const int steps = (groups + kStepGroups - 1) / kStepGroups;
  uint8_t* s = staged[warp];
  WalkStagedRows<kWords, kStepBytes, NT>(
      w, rows, row_stride, row_bytes, steps, blockIdx.x * kWarps + warp, gridDim.x * kWarps, s, n_tokens, y,
      [&] {
        WaitForPreviousKernel();
        RoundActivationsToShared<kPer256Rounding<T>>(x, x_up, cols, n_tokens, sx);
        __syncthreads();
      },
      [&](int shift, int step, float(&acc)[NT]) {
#pragma unroll
        for (int i = 0; i < kRunsPerLane; ++i) {
          const int r = lane + 32 * i;  // run r: group r / 8 of the step, elements 32 (r % 8) ..
          const int g = r >> 3;
          const int e = (step * kStepGroups + g) * kGroupElems + 32 * (r & 7);
          if (e < cols) DotRun<F, NT>(s, shift + g * F::kGroupBytes, r & 7, sx, cols, e, n_tokens, acc);
        }
      });
}

template <int NT, GgmlType T>
cudaError_t LaunchQ8Format(const QuantMatMulArgs& a, cudaStream_t stream) {
  using F = FormatQ8<T>;
  auto kernel = QuantMatMulQ8Kernel<T, NT>;
  const int shared = static_cast<int>(Q8SharedBytes(a.cols, a.n_tokens));
  // With the static staging buffers, above 48 KB a block needs the opt-in limit (a
  // per-device setting, so asked for on every launch that may need it).
  if (shared > 16 * 1024) {
    if (cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kQ8SharedLimit);
        err != cudaSuccess) {
      return err;
    }
  }
  int device = 0, sms = 0, per_sm = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, shared);
  if (err != cudaSuccess) return err;
  const int wanted = static_cast<int>((a.rows + kWarps - 1) / kWarps);
  const int blocks = BlocksPerProduct(wanted, sms * std::max(per_sm, 1), a.experts.products());
  const uint64_t row_bytes = static_cast<uint64_t>(a.cols) / kGroupElems * F::kGroupBytes +
                             static_cast<uint64_t>(a.cols % kGroupElems) * F::kGroupBytes / kGroupElems;
  return LaunchAfterPrevious(kernel, dim3(blocks, a.experts.products()), kThreads, shared, stream, a.w,
                             static_cast<int>(a.rows), static_cast<int>(a.cols), a.row_stride, row_bytes, a.x, a.x_up,
                             a.n_tokens, a.y, a.experts);
}

template <int NT>
cudaError_t LaunchQ8Tokens(const QuantMatMulArgs& a, cudaStream_t stream) {
  switch (a.type) {
    case GgmlType::Q4_0: return LaunchQ8Format<NT, GgmlType::Q4_0>(a, stream);
    case GgmlType::Q4_1: return LaunchQ8Format<NT, GgmlType::Q4_1>(a, stream);
    case GgmlType::Q5_0: return LaunchQ8Format<NT, GgmlType::Q5_0>(a, stream);
    case GgmlType::Q5_1: return LaunchQ8Format<NT, GgmlType::Q5_1>(a, stream);
    case GgmlType::Q8_0: return LaunchQ8Format<NT, GgmlType::Q8_0>(a, stream);
    case GgmlType::Q2_K: return LaunchQ8Format<NT, GgmlType::Q2_K>(a, stream);
    case GgmlType::Q3_K: return LaunchQ8Format<NT, GgmlType::Q3_K>(a, stream);
    case GgmlType::Q4_K: return LaunchQ8Format<NT, GgmlType::Q4_K>(a, stream);
    case GgmlType::Q5_K: return LaunchQ8Format<NT, GgmlType::Q5_K>(a, stream);
    case GgmlType::Q6_K: return LaunchQ8Format<NT, GgmlType::Q6_K>(a, stream);
    case GgmlType::IQ4_NL: return LaunchQ8Format<NT, GgmlType::IQ4_NL>(a, stream);
    case GgmlType::IQ4_XS: return LaunchQ8Format<NT, GgmlType::IQ4_XS>(a, stream);
    case GgmlType::MXFP4: return LaunchQ8Format<NT, GgmlType::MXFP4>(a, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t LaunchQuantMatMulQ8(const QuantMatMulArgs& args, cudaStream_t stream) {
  if (args.n_tokens <= 1) return LaunchQ8Tokens<1>(args, stream);
  if (args.n_tokens <= 2) return LaunchQ8Tokens<2>(args, stream);
  if (args.n_tokens <= 4) return LaunchQ8Tokens<4>(args, stream);
  return LaunchQ8Tokens<8>(args, stream);
}

}  // namespace tandem::cuda_detail
