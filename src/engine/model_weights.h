// The tensors of one model bound by role, with their shapes checked against the config.
// Weights stay where the GGUF map put them; nothing is copied or dequantized.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "model/gguf_model.h"
#include "model/hparams.h"

namespace tandem {

// A matrix of `rows` rows of `cols` elements of `type`; row r starts r * row_stride bytes
// after data (row_stride > row_bytes() when the matrix is a column slice of a wider one).
struct WeightMatrix {
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  uint64_t row_stride = 0;  // bytes

  static WeightMatrix Contiguous(GgmlType type, const void* data, int64_t rows, int64_t cols);
  uint64_t row_bytes() const { return RowBytes(type, static_cast<uint64_t>(cols)); }
  bool contiguous() const { return row_stride == row_bytes(); }
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_stride; }
  WeightMatrix Rows(int64_t first, int64_t count) const;
  // Columns [first, first + count); first and count must be multiples of the type's block.
  Expected<WeightMatrix> Columns(int64_t first, int64_t count) const;
};

// n_expert matrices of the same shape, expert e's starting e * expert_stride bytes after
// expert 0's (the 3-D `_exps` tensors, or one rank's slice of each expert).
struct ExpertMatrices {
  WeightMatrix first;          // expert 0
  int64_t n_expert = 0;
  uint64_t expert_stride = 0;  // bytes

  WeightMatrix expert(int64_t e) const;
};

// An F32 vector (norm weights, biases).
struct WeightVector {
  const float* data = nullptr;
  int64_t n = 0;
};

struct LayerWeights {
  WeightVector attn_norm;     // [n_embd]
  WeightMatrix wq;            // [n_head * head_dim rows, n_embd]
  WeightMatrix wk;            // [n_head_kv * head_dim, n_embd]
  WeightMatrix wv;            // [n_head_kv * head_dim, n_embd]
  WeightMatrix wo;            // [n_embd, n_head * head_dim]
  WeightVector q_norm;        // [head_dim] (qwen3moe) or [n_head * head_dim] (minimax-m2)
  WeightVector k_norm;        // [head_dim] or [n_head_kv * head_dim]
  WeightVector ffn_norm;      // [n_embd]
  WeightMatrix router;        // [n_expert, n_embd] (F32 in real files)
  WeightVector expert_bias;   // [n_expert] (minimax-m2) or empty
  ExpertMatrices gate_exps;   // n_expert x [n_ff_exp, n_embd]
  ExpertMatrices up_exps;     // n_expert x [n_ff_exp, n_embd]
  ExpertMatrices down_exps;   // n_expert x [n_embd, n_ff_exp]
};

struct ModelWeights {
  WeightMatrix token_embd;  // [n_vocab, n_embd]
  std::vector<LayerWeights> layers;
  WeightVector output_norm;  // [n_embd]
  WeightMatrix output;       // [n_vocab, n_embd] (token_embd when tied)

  // Binds every tensor of `config`'s architecture; errors name the tensor and the
  // shape or type expected.
  static Expected<ModelWeights> Bind(const GgufModel& model, const ModelConfig& config);
};

}  // namespace tandem
