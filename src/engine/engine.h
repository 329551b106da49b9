// The forward pass of one model's shard, written once over a Backend: embedding, the
// blocks (attention, mixture of experts), final norm and LM head, with the collectives
// that join the ranks' partial results (engine/shard.h says what a rank holds). The KV
// cache holds n_seq sequences; a prompt runs as batches of up to n_batch tokens of one
// sequence per op, and a decode step runs one token of each of up to kMaxStepRows
// sequences together (each weight read once for all of them). Activations live in a
// workspace sized at load.
#pragma once

#include <algorithm>
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
  int64_t n_ctx = 4096;    // KV cache positions of each sequence
  int64_t n_batch = 256;   // most prompt tokens per forward step
  int64_t n_seq = 1;       // sequences the KV cache holds (parallel slots)
  KvStorage kv_storage = KvStorage::kF16;
  int n_threads = 0;       // CPU backend threads; 0: all cores
  // Round activations like ggml before each quantized product (int8 per block, as
  // llama.cpp does). Unset: the backend's default, which is no for the CPU reference and
  // yes for CUDA, whose int8 dp4a products are its fast path.
  std::optional<bool> ggml_activation_rounding;
  // minimax-m2 decode steps: the attention's q . K pass runs while the q/k norm's sums are
  // all-reduced (Engine::AttentionAroundQkNorm). Unset: where the collective can overlap
  // (NCCL between GPUs); the workspace then holds the scores on sharded CUDA ranks.
  std::optional<bool> overlap_qk_norm;
  std::string backend = "cpu";  // cpu | cuda (engine/backend_factory.h)
  int cuda_device = 0;          // cuda backend: device ordinal
};

// Sees each named intermediate as it is computed: data is [n_tokens, n] f32 on the host;
// layer is -1 outside the blocks. Names: embd, attn_norm, q, k, v, q_rope and k_rope (after
// the q/k norms and RoPE; not seen where AttentionAroundQkNorm runs), attn, attn_out, ffn_in, ffn_norm, router_logits, moe_out, layer_out,
// output_norm, logits. A prompt longer than n_batch is seen one batch at a time, and
// output_norm and logits kLogitRows rows at a time.
using TensorObserver =
    std::function<void(std::string_view name, int layer, const float* data, int64_t n_tokens, int64_t n)>;

// One row of a batched decode step: the next token of sequence `seq`.
struct SeqToken {
  int64_t seq = 0;
  int32_t token = 0;
};

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
  static constexpr int64_t kMaxStepRows = 8;  // sequences one batched decode step takes

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_seq() const { return static_cast<int64_t>(n_past_.size()); }
  // Sequences that can decode together: the KV slots, at most kMaxStepRows.
  int64_t step_capacity() const { return std::min(n_seq(), kMaxStepRows); }
  // Positions sequence `seq` holds.
  int64_t n_past(int64_t seq = 0) const { return n_past_.at(static_cast<size_t>(seq)); }
  uint64_t workspace_bytes() const { return workspace_bytes_; }
  // Empties sequence `seq` (its cache is overwritten from position 0).
  void Reset(int64_t seq = 0) { n_past_.at(static_cast<size_t>(seq)) = 0; }
  // Benchmarks: sequence `seq` holds n_pos positions of synthetic keys and values (no
  // prefill; Backend::FillKvSynthetic) and its next Forward continues at position n_pos.
  Status FillContext(int64_t n_pos, int64_t seq = 0);
  void SetObserver(TensorObserver observer) { observer_ = std::move(observer); }
  // The collective's group was replaced (a rebuilt group attached to a DeferredCollective):
  // decode steps recorded with the old one's calls are dropped (Backend::ForgetRecordedSteps).
  void ForgetRecordedSteps() { backend_->ForgetRecordedSteps(); }

  // Runs `tokens` at positions n_past(seq) .. + n - 1 of sequence `seq` and appends them
  // to its cache. Every rank runs the same tokens. logits: this rank's vocabulary slice
  // (shard() vocab_begin, n_vocab; the whole vocabulary on one rank), [n, shard n_vocab]
  // when all_logits, else the last token's row.
  Status Forward(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits, int64_t seq = 0);
  // Forward of `tokens` whose last logits stay in the backend (logit row 0), for
  // SummarizeLogits (and DownloadLogits when the summaries cannot decide the token).
  Status Step(std::span<const int32_t> tokens, int64_t seq = 0);
  // One decode step of several sequences: row r runs rows[r].token at the next position of
  // sequence rows[r].seq (distinct sequences, 1..kMaxStepRows rows); the logits of row r
  // stay in the backend as logit row r.
  Status StepBatch(std::span<const SeqToken> rows);
  // This rank's summary of logit row `row` of the last Step / StepBatch for a sampling
  // step, penalised for `history` in place (Backend::SummarizeLogits).
  Expected<SliceSummary> SummarizeLogits(const SamplingParams& params, std::span<const int32_t> history,
                                         int64_t row = 0);
  // Logit row `row` of the last Step / StepBatch as it is now (penalised once
  // SummarizeLogits ran).
  Status DownloadLogits(std::vector<float>& logits, int64_t row = 0);
  // Every rank's slices of `rows` rows of logits joined on rank 0: whole [rows, n_vocab];
  // other ranks get whole empty. Every rank must call it.
  Status GatherLogits(std::span<const float> mine, int64_t rows, std::vector<float>& whole);

 private:
  // After a wait for the device: the results are only used when the collective's calls
  // they came through completed (Collective::health).
  Status CheckCollective();
  // Activations for n_batch tokens, in the backend's memory.
  struct Workspace {
    // Head counts are this shard's: q heads n_head, KV heads n_kv_head.
    int32_t* rows = nullptr;            // [3, n_batch] a step's tokens, sequences, positions (RowData)
    float* x = nullptr;                 // [n_batch, n_embd] the residual stream
    float* xn = nullptr;                // [n_batch, n_embd] x normalised
    float* q = nullptr;                 // [n_batch, n_head * head_dim]
    float* k = nullptr;                 // [n_batch, n_kv_head * head_dim]
    float* v = nullptr;                 // [n_batch, n_kv_head * head_dim]
    float* qk_sums = nullptr;           // [2, n_batch] sums of squares of q, then k rows
    float* attn = nullptr;              // [n_batch, n_head * head_dim]
    float* scores = nullptr;            // [kMaxStepRows, n_head, n_ctx] or null: AttentionAroundQkNorm's
    float* block_out = nullptr;         // [n_batch, n_embd] attention or MoE output
    float* router_logits = nullptr;     // [n_batch, n_expert]
    int32_t* expert_ids = nullptr;      // [n_batch, n_expert_used]
    float* expert_weights = nullptr;    // [n_batch, n_expert_used]
    float* logits = nullptr;            // [kLogitRows, shard n_vocab]
    float* logits_row = nullptr;        // [n_vocab] one row gathered from every rank (rank 0)
  };
  static constexpr int64_t kLogitRows = kMaxStepRows;  // LM head rows per product

  Engine() = default;
  Status AllocateWorkspace();
  // Uploads the n rows' tokens and places (one copy) and returns the places.
  RowPlaces UploadRows(std::span<const int32_t> tokens, std::span<const int32_t> seq, std::span<const int32_t> pos);
  // logits null: the last row's logits stay in ws_.logits.
  Status ForwardBatch(int64_t seq, std::span<const int32_t> tokens, bool all_logits, bool last_batch,
                      std::vector<float>* logits);
  Status ForwardAll(int64_t seq, std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits);
  Status CheckTokens(std::span<const int32_t> tokens) const;
  Status Blocks(const RowPlaces& rows);
  Status Attention(int layer, const RowPlaces& rows);
  void SumQkSquares(int64_t n);
  QkScales WholeQkScales() const;
  // Whether this step's attention runs around its q/k norm's all-reduce.
  bool OverlapsQkNorm(const RowPlaces& rows) const;
  Status AttentionAroundQkNorm(int layer, const RowPlaces& rows);
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
  std::optional<bool> overlap_qk_norm_;  // EngineOptions::overlap_qk_norm
  RopeParams rope_;
  TensorObserver observer_;
  std::vector<float> observed_;  // host copy of an observed tensor
  std::vector<int32_t> row_data_;  // host staging of ws_.rows
  std::vector<int64_t> n_past_;  // [n_seq] positions each sequence holds
};

}  // namespace tandem
