// The forward pass of one model's shard, written once over a Backend: embedding, the
// blocks (attention, mixture of experts), final norm and LM head, with the collectives
// that join the ranks' partial results (engine/shard.h says what a rank holds). One
// sequence; prompts run as batches of up to n_batch tokens per op, decode one token at a
// time; the KV cache grows by each call. Activations live in a workspace sized at load.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/backend.h"
#include "engine/model_weights.h"
#include "engine/shard.h"
#include "model/gguf_model.h"
#include "model/hparams.h"
#include "net/collective.h"

namespace tandem {

struct EngineOptions {
  int64_t n_ctx = 4096;    // KV cache positions
  int64_t n_batch = 256;   // most prompt tokens per forward step
  KvStorage kv_storage = KvStorage::kF16;
  int n_threads = 0;       // CPU backend threads; 0: all cores
  // Round activations like ggml before each quantized product (int8 per block, as
  // llama.cpp does). Unset: the backend's default, which is no for the CPU reference and
  // yes for CUDA, whose int8 dp4a products are its fast path.
  std::optional<bool> ggml_activation_rounding;
  std::string backend = "cpu";  // cpu | cuda (engine/backend_factory.h)
  int cuda_device = 0;          // cuda backend: device ordinal
};

// Sees each named intermediate as it is computed: data is [n_tokens, n] f32 on the host;
// layer is -1 outside the blocks. Names: embd, attn_norm, q, k, v, q_rope and k_rope (after
// the q/k norms and RoPE), attn, attn_out, ffn_in, ffn_norm, router_logits, moe_out, layer_out,
// output_norm, logits. A prompt longer than n_batch is seen one batch at a time, and
// output_norm and logits kLogitRows rows at a time.
using TensorObserver =
    std::function<void(std::string_view name, int layer, const float* data, int64_t n_tokens, int64_t n)>;

class Engine {
 public:
  // Opens the GGUF at `path` and runs all of it on the CPU backend as one rank.
  static Expected<std::unique_ptr<Engine>> Load(const std::string& path, const EngineOptions& options);
  // Runs this rank's shard of `plan` (rank: collective->rank()) of the model opened in
  // `model` on `backend`, joined to the other ranks by `collective`.
  static Expected<std::unique_ptr<Engine>> Create(GgufModel model, std::unique_ptr<Backend> backend,
                                                  std::unique_ptr<Collective> collective, const ShardPlan& plan,
                                                  const EngineOptions& options);

  const ModelConfig& config() const { return config_; }
  const GgufMetadata& metadata() const { return model_.metadata(); }
  Backend& backend() { return *backend_; }
  Collective& collective() { return *collective_; }
  const Shard& shard() const { return shard_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }
  uint64_t workspace_bytes() const { return workspace_bytes_; }
  void Reset() { n_past_ = 0; }
  // Benchmarks: the cache holds n_pos positions of synthetic keys and values (no prefill;
  // Backend::FillKvSynthetic) and the next Forward continues at position n_pos.
  Status FillContext(int64_t n_pos);
  void SetObserver(TensorObserver observer) { observer_ = std::move(observer); }

  // Runs `tokens` at positions n_past() .. n_past() + n - 1 and appends them to the cache.
  // Every rank runs the same tokens. logits: this rank's vocabulary slice (shard()
  // vocab_begin, n_vocab; the whole vocabulary on one rank), [n, shard n_vocab] when
  // all_logits, else the last token's row.
  Status Forward(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);
  // Forward of `tokens` whose last logits stay in the backend, for SummarizeLogits (and
  // DownloadLogits when the summaries cannot decide the token).
  Status Step(std::span<const int32_t> tokens);
  // This rank's summary of the last Step's logits for a sampling step, penalised for
  // `history` in place (Backend::SummarizeLogits).
  Expected<SliceSummary> SummarizeLogits(const SamplingParams& params, std::span<const int32_t> history);
  // The last Step's logits as they are now (penalised once SummarizeLogits ran).
  Status DownloadLogits(std::vector<float>& logits);
  // Every rank's slices of `rows` rows of logits joined on rank 0: whole [rows, n_vocab];
  // other ranks get whole empty. Every rank must call it.
  Status GatherLogits(std::span<const float> mine, int64_t rows, std::vector<float>& whole);

 private:
  // Activations for n_batch tokens, in the backend's memory.
  struct Workspace {
    // Head counts are this shard's: q heads n_head, KV heads n_kv_head.
    int32_t* tokens = nullptr;          // [n_batch]
    float* x = nullptr;                 // [n_batch, n_embd] the residual stream
    float* xn = nullptr;                // [n_batch, n_embd] x normalised
    float* q = nullptr;                 // [n_batch, n_head * head_dim]
    float* k = nullptr;                 // [n_batch, n_kv_head * head_dim]
    float* v = nullptr;                 // [n_batch, n_kv_head * head_dim]
    float* qk_sums = nullptr;           // [2, n_batch] sums of squares of q, then k rows
    float* attn = nullptr;              // [n_batch, n_head * head_dim]
    float* block_out = nullptr;         // [n_batch, n_embd] attention or MoE output
    float* router_logits = nullptr;     // [n_batch, n_expert]
    int32_t* expert_ids = nullptr;      // [n_batch, n_expert_used]
    float* expert_weights = nullptr;    // [n_batch, n_expert_used]
    float* logits = nullptr;            // [kLogitRows, shard n_vocab]
    float* logits_row = nullptr;        // [n_vocab] one row gathered from every rank (rank 0)
  };
  static constexpr int64_t kLogitRows = 8;  // LM head rows per product when all logits are asked

  Engine() = default;
  Status AllocateWorkspace();
  // logits null: the last row's logits stay in ws_.logits.
  Status ForwardBatch(std::span<const int32_t> tokens, bool all_logits, bool last_batch, std::vector<float>* logits);
  Status ForwardAll(std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits);
  Status Blocks(int64_t n);
  Status Attention(int layer, int64_t n);
  Status WholeQkNorm(const LayerWeights& w, int64_t n);
  Status Moe(int layer, int64_t n);
  void LmHeadProducts(int64_t first, int64_t rows);
  Status AppendLogits(int64_t rows, std::vector<float>& logits);
  void Observe(std::string_view name, int layer, const float* data, int64_t n_tokens, int64_t n);

  GgufModel model_;
  ModelConfig config_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Collective> collective_;
  Shard shard_;
  std::vector<int64_t> vocab_counts_;  // [n_ranks] LM head rows of each rank
  ModelWeights weights_;  // this shard's, in the backend's memory
  Workspace ws_;
  uint64_t workspace_bytes_ = 0;
  int64_t n_ctx_ = 0, n_batch_ = 0;
  RopeParams rope_;
  TensorObserver observer_;
  std::vector<float> observed_;  // host copy of an observed tensor
  int64_t n_past_ = 0;
};

}  // namespace tandem
