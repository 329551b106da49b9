// The weighted-sum kernel behind MoeExpertsForward (moe_experts.cu); shared by the .cu and
// moe_experts.cc only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem::cuda_detail {

// out[t][c] = sum over slots j of token t whose expert ids[t * k + j] - expert_begin lies
// in [0, n_expert) of weights[t * k + j] * down[t * k + j][c]; slots in order.
cudaError_t LaunchMoeWeightedSum(const float* down, const int32_t* ids, const float* weights, int64_t n_tokens,
                                 int64_t k, int64_t n_embd, int64_t expert_begin, int64_t n_expert, float* out,
                                 cudaStream_t stream);

}  // namespace tandem::cuda_detail
