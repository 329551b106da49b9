#include "model/token_bytes.h"

#include <string_view>

namespace tandem {
namespace {

bool Contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

}  // namespace

ModelPart ClassifyTensor(std::string_view name) {
  if (name == "token_embd.weight") return ModelPart::kEmbedding;
  if (name == "output.weight") return ModelPart::kHead;
  if (Contains(name, "_exps.")) return ModelPart::kExperts;
  if (Contains(name, ".ffn_gate_inp.") || Contains(name, ".exp_probs_b.")) return ModelPart::kRouter;
  if (Contains(name, ".attn_")) return ModelPart::kAttention;
  return ModelPart::kNorms;
}

TokenBytes ComputeTokenBytes(std::span<const GgufTensorInfo> tensors, uint32_t n_expert_used, uint32_t n_expert) {
  TokenBytes b;
  bool has_output = false;
  const GgufTensorInfo* embd = nullptr;
  for (const auto& t : tensors) {
    switch (ClassifyTensor(t.name)) {
      case ModelPart::kEmbedding:
        embd = &t;
        b.embedding += t.nbytes / static_cast<uint64_t>(t.rows());
        break;
      case ModelPart::kHead:
        has_output = true;
        b.head += t.nbytes;
        break;
      case ModelPart::kExperts:
        b.experts += n_expert == 0 ? 0 : t.nbytes / n_expert * n_expert_used;
        break;
      case ModelPart::kRouter:
        b.router += t.nbytes;
        break;
      case ModelPart::kAttention:
        b.attention += t.nbytes;
        break;
      case ModelPart::kNorms:
        b.norms += t.nbytes;
        break;
    }
  }
  if (!has_output && embd != nullptr) b.head += embd->nbytes;  // tied embeddings
  return b;
}

}  // namespace tandem
