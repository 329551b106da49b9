// One warp per token: scores into shared memory, k rounds of a warp arg-max (larger
// score first, then the lower index), then lane 0 normalises the k weights in the CPU's
// order so they agree bit for bit when the scores do.
#include <cuda_runtime.h>

#include <climits>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/moe_router.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace tandem {
namespace {

// a beats b: larger score, ties to the lower index.
__device__ __forceinline__ bool Better(float a_score, int a_id, float b_score, int b_id) {
  return a_score > b_score || (a_score == b_score && a_id < b_id);
}

__global__ void __launch_bounds__(32) RouteKernel(RouteArgs a) {
  cuda_detail::StartAfterPreviousKernel();
  extern __shared__ float shared[];
  const int n = static_cast<int>(a.n_expert), k = static_cast<int>(a.k);
  float* prob = shared;                                        // [n] softmax probs or sigmoid scores
  float* select = prob + n;                                    // [n] selection score
  auto* taken = reinterpret_cast<unsigned char*>(select + n);  // [n]
  const int lane = threadIdx.x;
  const int64_t t = blockIdx.x;
  const float* logits = a.logits + t * n;

  if (!a.sigmoid) {
    float mx = -INFINITY;
    for (int e = lane; e < n; e += 32) mx = fmaxf(mx, logits[e]);
    mx = cuda_detail::WarpMax(mx);
    double sum = 0.0;
    for (int e = lane; e < n; e += 32) {
      prob[e] = expf(logits[e] - mx);
      sum += prob[e];
    }
    sum = cuda_detail::WarpSum(sum);
    const float inv_sum = static_cast<float>(1.0 / sum);
    for (int e = lane; e < n; e += 32) {
      prob[e] = __fmul_rn(prob[e], inv_sum);
      select[e] = prob[e];
      taken[e] = 0;
    }
  } else {
    for (int e = lane; e < n; e += 32) {
      prob[e] = __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-logits[e])));
      select[e] = a.bias ? __fadd_rn(prob[e], a.bias[e]) : prob[e];
      taken[e] = 0;
    }
  }
  __syncwarp();

  int32_t* ids = a.ids + t * k;
  for (int j = 0; j < k; ++j) {
    float best = -INFINITY;
    int best_id = INT_MAX;
    for (int e = lane; e < n; e += 32) {
      if (!taken[e] && Better(select[e], e, best, best_id)) {
        best = select[e];
        best_id = e;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float other = __shfl_xor_sync(0xffffffffu, best, o);
      const int other_id = __shfl_xor_sync(0xffffffffu, best_id, o);
      if (Better(other, other_id, best, best_id)) {
        best = other;
        best_id = other_id;
      }
    }
    if (lane == 0) {
      ids[j] = best_id;
      taken[best_id] = 1;
    }
    __syncwarp();
  }

  if (lane != 0) return;
  float* weights = a.weights + t * k;
  for (int j = 0; j < k; ++j) weights[j] = prob[ids[j]];
  if (a.sigmoid || a.norm_topk) {
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) sum = __fadd_rn(sum, weights[j]);
    sum = fmaxf(sum, 6.103515625e-5f);  // 2^-14, like llama.cpp's build_moe_ffn
    for (int j = 0; j < k; ++j) weights[j] = __fdiv_rn(weights[j], sum);
  }
  if (a.sigmoid) {
    for (int j = 0; j < k; ++j) weights[j] = __fmul_rn(weights[j], a.weights_scale);
  }
}

}  // namespace

cudaError_t RouteTopK(const RouteArgs& a, cudaStream_t stream) {
  if (a.n_tokens <= 0) return cudaSuccess;
  if (a.n_expert <= 0 || a.n_expert > kRouteMaxExperts || a.k < 1 || a.k > a.n_expert) return cudaErrorInvalidValue;
  const size_t shared = static_cast<size_t>(a.n_expert) * (2 * sizeof(float) + 1);
  return cuda_detail::LaunchAfterPrevious(RouteKernel, static_cast<unsigned>(a.n_tokens), 32, shared, stream, a);
}

}  // namespace tandem
