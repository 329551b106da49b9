#include "model/token_bytes.h"

#include <string_view>

namespace tandem {
namespace {

bool Contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

}  // namespace

TokenBytes ComputeTokenBytes(std::span<const GgufTensorInfo> tensors, uint32_t n_expert_used, uint32_t n_expert) {
  TokenBytes b;
  bool has_output = false;
  const GgufTensorInfo* embd = nullptr;
  for (const auto& t : tensors) {
    std::string_view name = t.name;
    if (name == "token_embd.weight") {
      embd = &t;
      b.embedding += t.nbytes / static_cast<uint64_t>(t.rows());
    } else if (name == "output.weight") {
      has_output = true;
      b.head += t.nbytes;
    } else if (Contains(name, "_exps.")) {
      b.experts += n_expert == 0 ? 0 : t.nbytes / n_expert * n_expert_used;
    } else if (Contains(name, ".ffn_gate_inp.") || Contains(name, ".exp_probs_b.")) {
      b.router += t.nbytes;
    } else if (Contains(name, ".attn_")) {
      b.attention += t.nbytes;
    } else {
      b.norms += t.nbytes;
    }
  }
  if (!has_output && embd != nullptr) b.head += embd->nbytes;  // tied embeddings
  return b;
}

}  // namespace tandem
