// Mixture-of-experts routing: which k experts a token uses, and their weights.
// Ties in the selection score go to the lower expert index.
#pragma once

#include <cstdint>

namespace tandem {

// qwen3moe: probs = softmax(logits); the k largest probs are chosen; their weights are
// the probs, divided by their sum when norm_topk.
// logits: [n_expert] f32; ids: [k] out, by descending prob; weights: [k] f32 out.
void RouteSoftmax(const float* logits, int64_t n_expert, int64_t k, bool norm_topk, int32_t* ids,
                  float* weights);

// minimax-m2: s = sigmoid(logits); the k largest s + bias are chosen (bias: [n_expert] f32
// or nullptr); their weights are the unbiased s divided by max(sum of them, 2^-14), times
// expert_weights_scale. ids by descending s + bias.
void RouteSigmoid(const float* logits, const float* bias, int64_t n_expert, int64_t k,
                  float expert_weights_scale, int32_t* ids, float* weights);

}  // namespace tandem
