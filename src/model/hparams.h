// Everything the forward pass needs from a model's metadata, read and checked once:
// the shape plus the facts of routing and rope scaling. Facts a file does not carry are
// fixed per architecture (ArchTraits); optional keys have the defaults written here.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "model/arch.h"
#include "model/gguf_value.h"

namespace tandem {

struct RopeScaling {
  bool yarn = false;                   // <arch>.rope.scaling.type == "yarn"
  float factor = 1.0f;                 // <arch>.rope.scaling.factor
  uint32_t original_context = 0;       // <arch>.rope.scaling.original_context_length
  float attn_factor = 1.0f;            // <arch>.rope.scaling.attn_factor
};

struct ModelConfig {
  ModelShape shape;
  RopeScaling rope_scaling;
  bool sigmoid_gating = false;       // <arch>.expert_gating_func == 2 (else softmax)
  bool norm_topk = true;             // renormalise the chosen experts' weights (both archs do)
  float expert_weights_scale = 1.0f;  // <arch>.expert_weights_scale (optional)
  bool has_expert_bias = false;      // blk.N.exp_probs_b.bias present (minimax-m2)
  bool whole_qk_norm = false;        // q/k RMSNorm over the whole projection (minimax-m2)
};

// n_vocab_hint: rows of token_embd, used when the file has no tokenizer.
Expected<ModelConfig> ReadModelConfig(const GgufMetadata& md, uint32_t n_vocab_hint);

}  // namespace tandem
