// Block (token, head) over the n_head q heads then the n_kv_head k heads: the head's row in
// shared memory, normalised (per head: a double sum of squares like RmsNorm; whole: the
// row's scale from its given sum, like RmsNormApply), its pairs rotated, then written
// back; k heads also write k and v to the cache.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/head_norm_rope.h"
#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/rms_norm_math.cuh"
#include "kernels/cuda/rope_math.cuh"
#include "kernels/cuda/warp_reduce.cuh"

namespace tandem {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxHeadDim = 256;

struct Args {
  HeadNormRopeArgs a;
  cuda_detail::RopeConsts rope;
};

template <bool kF16>
__device__ __forceinline__ void StoreTo(void* cache, int64_t at, float x) {
  if constexpr (kF16) {
    static_cast<__half*>(cache)[at] = __float2half_rn(x);
  } else {
    static_cast<float*>(cache)[at] = x;
  }
}

template <bool kF16>
__global__ void __launch_bounds__(kThreads) HeadNormRopeKernel(Args args) {
  cuda_detail::StartAfterPreviousKernel();
  const HeadNormRopeArgs& a = args.a;
  __shared__ float row[kMaxHeadDim];
  __shared__ double scratch[32];
  const int t = blockIdx.x, h = blockIdx.y, hd = static_cast<int>(a.head_dim);
  const bool is_q = h < a.n_head;
  const int64_t head = is_q ? h : h - a.n_head;
  const int64_t row_at = (t * (is_q ? a.n_head : a.n_kv_head) + head) * hd;
  float* x = (is_q ? a.q : a.k) + row_at;
  const float* w = is_q ? a.q_norm : a.k_norm;
  const int64_t pos = a.pos[t];

  if (w != nullptr && a.whole) {
    const float* w_head = w + head * hd;
    if (a.sums != nullptr) {
      const double sum = a.sums[(is_q ? 0 : a.n_rows) + t];
      const float scale = cuda_detail::RmsScale(sum, is_q ? a.q_total : a.k_total, a.eps);
      for (int i = threadIdx.x; i < hd; i += kThreads) row[i] = cuda_detail::RmsApply(x[i], scale, w_head, i);
    } else {
      for (int i = threadIdx.x; i < hd; i += kThreads) row[i] = __fmul_rn(x[i], w_head[i]);
    }
  } else if (w != nullptr) {
    double sum = 0.0;
    for (int i = threadIdx.x; i < hd; i += kThreads) sum += cuda_detail::Square(x[i]);
    const float scale = cuda_detail::RmsScale(cuda_detail::BlockSum(sum, scratch), hd, a.eps);
    for (int i = threadIdx.x; i < hd; i += kThreads) row[i] = cuda_detail::RmsApply(x[i], scale, w, i);
  } else {
    for (int i = threadIdx.x; i < hd; i += kThreads) row[i] = x[i];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < args.rope.half; i += kThreads) cuda_detail::RotatePair(args.rope, row, i, pos);
  __syncthreads();
  const int64_t cache_at = a.seq[t] * a.seq_stride + pos * a.n_kv_head * hd + head * hd;
  for (int i = threadIdx.x; i < hd; i += kThreads) {
    x[i] = row[i];
    if (!is_q) {
      StoreTo<kF16>(a.k_cache, cache_at + i, row[i]);
      StoreTo<kF16>(a.v_cache, cache_at + i, a.v[row_at + i]);
    }
  }
}

}  // namespace

cudaError_t HeadNormRopeStore(const HeadNormRopeArgs& a, cudaStream_t stream) {
  if (a.n_rows <= 0) return cudaSuccess;
  if (a.head_dim <= 0 || a.head_dim > kMaxHeadDim || a.rope.n_rot % 2 != 0 || a.rope.n_rot > a.head_dim ||
      a.rope.n_rot < 0 || a.seq == nullptr || a.pos == nullptr ||
      (a.whole && a.sums != nullptr && (a.q_total < 1 || a.k_total < 1))) {
    return cudaErrorInvalidValue;
  }
  const Args args{a, cuda_detail::MakeRopeConsts(a.rope)};
  const dim3 grid(static_cast<unsigned>(a.n_rows), static_cast<unsigned>(a.n_head + a.n_kv_head));
  return cuda_detail::LaunchAfterPrevious(a.f16 ? HeadNormRopeKernel<true> : HeadNormRopeKernel<false>, grid,
                                          kThreads, 0, stream, args);
}

}  // namespace tandem
