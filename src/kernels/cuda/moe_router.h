// Mixture-of-experts routing on the GPU: the CUDA twin of kernels/cpu/moe_router.h (both
// router kinds, ties to the lower expert index), ids and weights left in device memory.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem {

struct RouteArgs {
  const float* logits = nullptr;  // device [n_tokens, n_expert]
  int64_t n_tokens = 0;
  int64_t n_expert = 0;           // <= kRouteMaxExperts
  int64_t k = 0;                  // experts per token, 1..n_expert
  bool sigmoid = false;           // false: softmax (qwen3moe), true: sigmoid + bias (minimax-m2)
  bool norm_topk = true;          // softmax: renormalise the k weights
  const float* bias = nullptr;    // sigmoid: device [n_expert] selection bias, or null
  float weights_scale = 1.0f;     // sigmoid: applied after normalising
  int32_t* ids = nullptr;         // device [n_tokens, k] out, by descending selection score
  float* weights = nullptr;       // device [n_tokens, k] out
};

inline constexpr int64_t kRouteMaxExperts = 4096;

cudaError_t RouteTopK(const RouteArgs& args, cudaStream_t stream);

}  // namespace tandem
