// The model architectures tandem runs and the shape hyperparameters they store in GGUF
// metadata (`<arch>.block_count`, ...). Facts that the file does not carry but that are
// fixed per architecture live in ArchTraits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "model/gguf_value.h"

namespace tandem {

enum class Arch { kQwen3Moe, kMiniMaxM2 };

std::string_view ArchName(Arch arch);  // "qwen3moe", "minimax-m2"
Expected<Arch> ParseArch(std::string_view name);

struct ArchTraits {
  std::string_view pre_tokenizer;  // tokenizer.ggml.pre: "qwen2", "minimax-m2"
  std::string_view template_file;  // chat template in tests/data/templates
  uint32_t gating_func;            // <arch>.expert_gating_func: 1 softmax, 2 sigmoid
  bool has_expert_bias;            // blk.N.exp_probs_b.bias (selection bias)
  bool whole_qk_norm;              // q/k RMSNorm over the whole projection, not per head
};
const ArchTraits& Traits(Arch arch);

// Shape of a model: the numbers that fix every tensor's dimensions.
struct ModelShape {
  Arch arch = Arch::kQwen3Moe;
  uint32_t n_layer = 0;          // block_count
  uint32_t n_embd = 0;           // embedding_length
  uint32_t n_head = 0;           // attention.head_count (query heads)
  uint32_t n_head_kv = 0;        // attention.head_count_kv
  uint32_t head_dim = 0;         // attention.key_length (= value_length)
  uint32_t n_rot = 0;            // rope.dimension_count (dims rotated per head)
  uint32_t n_expert = 0;         // expert_count
  uint32_t n_expert_used = 0;    // expert_used_count (top-k)
  uint32_t n_ff_exp = 0;         // expert_feed_forward_length
  uint32_t n_vocab = 0;          // rows of token_embd / output
  uint32_t n_ctx_train = 0;      // context_length
  float rope_freq_base = 0;      // rope.freq_base
  float rms_eps = 0;             // attention.layer_norm_rms_epsilon
};

// The real model's shape: Qwen3-30B-A3B, MiniMax-M2.
ModelShape RealShape(Arch arch);

// Reads the shape from metadata; missing or out-of-range keys are errors naming the key.
// n_vocab comes from the length of tokenizer.ggml.tokens (or `n_vocab_hint` if absent).
Expected<ModelShape> ReadShape(const GgufMetadata& md, uint32_t n_vocab_hint);

// Writes the shape's keys (`<arch>.…`) into metadata.
void WriteShape(const ModelShape& shape, GgufMetadata& md);

}  // namespace tandem
