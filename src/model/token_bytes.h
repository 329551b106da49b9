// Bytes of weights read to decode one token at batch 1, by part of the model: every
// attention and norm weight, the router, the top-k experts' share of each expert
// tensor, one embedding row and the LM head. KV-cache reads are not included.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "model/gguf_file.h"

namespace tandem {

struct TokenBytes {
  uint64_t attention = 0;  // blk.N.attn_* (projections and their norms)
  uint64_t router = 0;     // blk.N.ffn_gate_inp, blk.N.exp_probs_b
  uint64_t experts = 0;    // k/n_expert of blk.N.ffn_{gate,up,down}_exps
  uint64_t norms = 0;      // other 1-D weights (ffn_norm, output_norm)
  uint64_t embedding = 0;  // one row of token_embd
  uint64_t head = 0;       // output (or token_embd when tied)

  uint64_t total() const { return attention + router + experts + norms + embedding + head; }
};

// Which part of the model a tensor belongs to, by its name.
enum class ModelPart { kAttention, kRouter, kExperts, kNorms, kEmbedding, kHead };
ModelPart ClassifyTensor(std::string_view name);

TokenBytes ComputeTokenBytes(std::span<const GgufTensorInfo> tensors, uint32_t n_expert_used, uint32_t n_expert);

}  // namespace tandem
