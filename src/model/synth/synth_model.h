// A synthetic model: the exact metadata keys and tensor names/shapes of a real
// architecture (optionally shrunk), random weights quantized by a recipe. Written to a
// GGUF file, or filled tensor by tensor into memory for benchmarks of models too large
// for the disk.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/arch.h"
#include "model/gguf_writer.h"
#include "model/synth/recipe.h"
#include "model/token_bytes.h"

namespace tandem {

struct SynthOptions {
  ModelShape shape;               // RealShape(arch), possibly shrunk
  Recipe recipe = Recipe::kQ8_0;
  std::string vocab_path;         // vocab-only GGUF with the tokenizer
  uint64_t seed = 1;
  uint32_t k_outlier_channels = 0;  // per KV head, channels of attn_k scaled up
  float k_outlier_scale = 8.0f;     // their magnitude relative to the others
};

class SynthModel {
 public:
  // Lays out metadata and tensors; checks every tensor's rows fit its type's blocks.
  static Expected<SynthModel> Build(const SynthOptions& options);

  const SynthOptions& options() const { return options_; }
  const GgufWriter& writer() const { return writer_; }
  const std::vector<GgufTensorInfo>& tensors() const { return writer_.tensors(); }
  TokenBytes token_bytes() const;

  // Random weights of tensor `index` (deterministic in seed and tensor name).
  Status FillTensor(size_t index, std::span<uint8_t> dst) const;
  Status WriteFile(const std::string& path, bool progress) const;

 private:
  struct Plan {
    TensorRole role;
    float stddev;  // of the values before quantization (norms: spread around 1)
  };
  SynthOptions options_;
  GgufWriter writer_;
  std::vector<Plan> plans_;  // per tensor, same order as writer_.tensors()
};

}  // namespace tandem
