// The CPU reference engine: one model, one sequence, the exact forward pass of
// qwen3moe and minimax-m2 with weights used in place from the GGUF map. Prompts run as a
// batch of tokens per op, decode one token at a time; the KV cache grows by each call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "engine/kv_cache.h"
#include "engine/model_weights.h"
#include "model/gguf_model.h"
#include "model/hparams.h"

namespace tandem {

struct EngineOptions {
  int64_t n_ctx = 4096;                  // KV cache positions
  KvStorage kv_storage = KvStorage::kF16;
  int n_threads = 0;                     // 0: all cores
  // Round activations like ggml's CPU backend before each quantized product (see
  // kernels/cpu/activation_rounding.h): for comparisons with llama.cpp only.
  bool ggml_activation_rounding = false;
};

// Sees each named intermediate as it is computed: data is [n_tokens, n] f32; layer is
// -1 outside the blocks. Names: embd, attn_norm, q, k, v, q_normed, k_normed, q_rope,
// k_rope, attn, attn_out, ffn_in, ffn_norm, router_logits, moe_out, layer_out,
// output_norm, logits.
using TensorObserver =
    std::function<void(std::string_view name, int layer, const float* data, int64_t n_tokens, int64_t n)>;

class CpuEngine {
 public:
  static Expected<std::unique_ptr<CpuEngine>> Load(const std::string& path, const EngineOptions& options);

  const ModelConfig& config() const { return config_; }
  const KvCache& kv_cache() const { return kv_; }
  const GgufMetadata& metadata() const { return model_.metadata(); }
  int64_t n_past() const { return n_past_; }
  void Reset() { n_past_ = 0; }
  void SetObserver(TensorObserver observer) { observer_ = std::move(observer); }

  // Runs `tokens` at positions n_past() .. n_past() + n - 1 and appends them to the cache.
  // logits: [n, n_vocab] when all_logits, else the last token's [n_vocab].
  Status Forward(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);

 private:
  CpuEngine() = default;
  void Attention(int layer, int64_t n, std::vector<float>& x);
  void Moe(int layer, int64_t n, std::vector<float>& x);
  void Observe(std::string_view name, int layer, const std::vector<float>& data, int64_t n_tokens) const;
  // y: [n_tokens, w.rows] = x: [n_tokens, w.cols] times w's rows.
  void MatMulRows(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y);

  GgufModel model_;
  ModelConfig config_;
  ModelWeights weights_;
  KvCache kv_;
  std::unique_ptr<ThreadPool> pool_;
  bool ggml_activation_rounding_ = false;
  std::vector<float> rounded_;  // scratch for rounded activations
  TensorObserver observer_;
  int64_t n_past_ = 0;
};

}  // namespace tandem
