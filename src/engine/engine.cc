#include "engine/engine.h"

#include <algorithm>

#include "common/log.h"
#include "engine/backend_factory.h"

namespace tandem {
namespace {

RopeParams MakeRope(const ModelConfig& c) {
  RopeParams p;
  p.freq_base = c.shape.rope_freq_base;
  p.n_rot = c.shape.n_rot;
  if (c.rope_scaling.yarn) {
    p.yarn.factor = c.rope_scaling.factor;
    p.yarn.original_context = c.rope_scaling.original_context;
    p.yarn.attn_factor = c.rope_scaling.attn_factor;
    p.yarn.ext_factor = 1.0f;  // llama.cpp's default when the model asks for YaRN
  }
  return p;
}

}  // namespace

Expected<std::unique_ptr<Engine>> Engine::Load(const std::string& path, const EngineOptions& options) {
  TANDEM_ASSIGN_OR_RETURN(GgufModel model, GgufModel::Open(path));
  auto backend = MakeBackend(options, options.n_threads);
  if (!backend.ok()) return backend.status().WithContext(path);
  const Tensor* embd = model.Find("token_embd.weight");
  uint32_t n_vocab_hint = embd != nullptr ? static_cast<uint32_t>(embd->ne(1)) : 0;
  auto config = ReadModelConfig(model.metadata(), n_vocab_hint);
  if (!config.ok()) return config.status().WithContext(path);
  auto engine = Create(std::move(model), std::move(backend).value(), std::make_unique<SoloCollective>(),
                       WholeModel(config->shape), options);
  if (!engine.ok()) return engine.status().WithContext(path);
  return engine;
}

Expected<std::unique_ptr<Engine>> Engine::Create(GgufModel model, std::unique_ptr<Backend> backend,
                                                 std::unique_ptr<Collective> collective, const ShardPlan& plan,
                                                 const EngineOptions& options) {
  if (options.n_ctx < 1) return Status::Error("context length {} must be at least 1", options.n_ctx);
  if (options.n_batch < 1) return Status::Error("batch size {} must be at least 1", options.n_batch);
  if (options.n_seq < 1) return Status::Error("{} parallel sequences: need at least 1", options.n_seq);
  if (static_cast<int>(plan.size()) != collective->size()) {
    return Status::Error("a plan for {} ranks on a group of {}", plan.size(), collective->size());
  }
  std::unique_ptr<Engine> e(new Engine());
  e->model_ = std::move(model);
  e->backend_ = std::move(backend);
  e->collective_ = std::move(collective);
  const Tensor* embd = e->model_.Find("token_embd.weight");
  uint32_t n_vocab_hint = embd != nullptr ? static_cast<uint32_t>(embd->ne(1)) : 0;
  TANDEM_ASSIGN_OR_RETURN(e->config_, ReadModelConfig(e->model_.metadata(), n_vocab_hint));
  const ModelShape& s = e->config_.shape;
  TANDEM_TRY(CheckPlan(plan, s));
  e->shard_ = plan[e->collective_->rank()];
  for (const Shard& p : plan) e->vocab_counts_.push_back(p.n_vocab);
  TANDEM_ASSIGN_OR_RETURN(ModelWeights full, ModelWeights::Bind(e->model_, e->config_));
  TANDEM_ASSIGN_OR_RETURN(ModelWeights mine, SliceWeights(full, e->config_, e->shard_));
  TANDEM_ASSIGN_OR_RETURN(e->weights_, e->backend_->PlaceWeights(mine));
  e->n_ctx_ = options.n_ctx;
  // A batched decode step's rows share the workspace of a prompt batch.
  e->n_batch_ = std::max(std::min(options.n_batch, options.n_ctx), std::min(options.n_seq, kMaxStepRows));
  e->n_past_.assign(static_cast<size_t>(options.n_seq), 0);
  e->rope_ = MakeRope(e->config_);
  e->overlap_qk_norm_ = options.overlap_qk_norm;
  TANDEM_TRY(e->backend_->CreateKvCache(KvShape{s.n_layer, options.n_ctx, e->shard_.n_kv_head, s.head_dim,
                                                options.kv_storage, options.n_seq}));
  TANDEM_TRY(e->AllocateWorkspace());
  Log(Subsystem::kEngine)
      .info("rank {} of {} on the {} backend: {} layers; KV cache {} x {} positions = {:.1f} MiB; workspace {} "
            "tokens = {:.1f} MiB",
            e->shard_.rank, e->shard_.n_ranks, e->backend_->name(), s.n_layer, options.n_seq, options.n_ctx,
            static_cast<double>(e->backend_->kv_bytes()) / (1 << 20), e->n_batch_,
            static_cast<double>(e->workspace_bytes_) / (1 << 20));
  return e;
}

Status Engine::AllocateWorkspace() {
  const ModelShape& s = config_.shape;
  const int64_t b = n_batch_, embd = s.n_embd;
  const int64_t q_dim = shard_.n_head(s) * s.head_dim, kv_dim = shard_.n_kv_head * s.head_dim;
  auto take = [this](auto*& ptr, int64_t n) -> Status {
    using T = std::remove_reference_t<decltype(*ptr)>;
    const uint64_t bytes = static_cast<uint64_t>(n) * sizeof(T);
    auto mem = backend_->Allocate(bytes);
    if (!mem.ok()) return mem.status().WithContext("engine workspace");
    ptr = static_cast<T*>(*mem);
    workspace_bytes_ += bytes;
    return Status::Ok();
  };
  TANDEM_TRY(take(ws_.rows, 3 * b));
  TANDEM_TRY(take(ws_.x, b * embd));
  TANDEM_TRY(take(ws_.xn, b * embd));
  TANDEM_TRY(take(ws_.q, b * q_dim));
  TANDEM_TRY(take(ws_.k, b * kv_dim));
  TANDEM_TRY(take(ws_.v, b * kv_dim));
  TANDEM_TRY(take(ws_.qk_sums, 2 * b));
  TANDEM_TRY(take(ws_.attn, b * q_dim));
  // Only NCCL overlaps, between sharded CUDA ranks; the collective is not attached yet.
  const bool may_overlap = overlap_qk_norm_.value_or(shard_.n_ranks > 1 && backend_->name() == "cuda");
  if (config_.whole_qk_norm && may_overlap) {
    TANDEM_TRY(take(ws_.scores, std::min(n_batch_, kMaxStepRows) * shard_.n_head(s) * n_ctx_));
  }
  TANDEM_TRY(take(ws_.block_out, b * embd));
  TANDEM_TRY(take(ws_.router_logits, b * s.n_expert));
  TANDEM_TRY(take(ws_.expert_ids, b * s.n_expert_used));
  TANDEM_TRY(take(ws_.expert_weights, b * s.n_expert_used));
  TANDEM_TRY(take(ws_.logits, kLogitRows * shard_.n_vocab));
  TANDEM_TRY(take(ws_.logits_row, int64_t{s.n_vocab}));
  return Status::Ok();
}

void Engine::Observe(std::string_view name, int layer, const float* data, int64_t n_tokens, int64_t n) {
  if (!observer_) return;
  observed_.resize(static_cast<size_t>(n_tokens * n));
  // An observer is a debugging aid: a failed copy shows up in the next Download.
  if (backend_->Download(data, observed_.data(), observed_.size() * sizeof(float)).ok()) {
    observer_(name, layer, observed_.data(), n_tokens, n);
  }
}

Status Engine::FillContext(int64_t n_pos, int64_t seq) {
  backend_->UseOnThisThread();
  if (seq < 0 || seq >= n_seq()) return Status::Error("sequence {} outside the {} of the KV cache", seq, n_seq());
  if (n_pos < 0 || n_pos >= n_ctx_) {
    return Status::Error("a synthetic context of {} positions does not fit the {} of the KV cache", n_pos, n_ctx_);
  }
  backend_->FillKvSynthetic(seq, n_pos);
  n_past_[seq] = n_pos;
  return Status::Ok();
}

Status Engine::Forward(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits, int64_t seq) {
  logits.clear();
  return ForwardAll(seq, tokens, all_logits, &logits);
}

Status Engine::Step(std::span<const int32_t> tokens, int64_t seq) { return ForwardAll(seq, tokens, false, nullptr); }

Status Engine::StepBatch(std::span<const SeqToken> rows) {
  backend_->UseOnThisThread();
  const int64_t n = static_cast<int64_t>(rows.size());
  if (n < 1 || n > kMaxStepRows) return Status::Error("a decode step of {} rows: 1 to {} are possible", n, kMaxStepRows);
  std::vector<int32_t> tokens, seqs, pos;
  for (const SeqToken& r : rows) {
    if (r.seq < 0 || r.seq >= n_seq()) {
      return Status::Error("sequence {} outside the {} of the KV cache", r.seq, n_seq());
    }
    if (std::find(seqs.begin(), seqs.end(), r.seq) != seqs.end()) {
      return Status::Error("sequence {} appears twice in one decode step", r.seq);
    }
    if (n_past_[r.seq] >= n_ctx_) {
      return Status::Error("context full: sequence {} holds all {} positions of the KV cache", r.seq, n_ctx_);
    }
    tokens.push_back(r.token);
    seqs.push_back(static_cast<int32_t>(r.seq));
    pos.push_back(static_cast<int32_t>(n_past_[r.seq]));
  }
  TANDEM_TRY(CheckTokens(tokens));
  RowPlaces places = UploadRows(tokens, seqs, pos);
  places.decode = true;
  auto forward = [&]() -> Status {
    TANDEM_TRY(Blocks(places));
    LmHeadProducts(0, n);
    return Status::Ok();
  };
  // Without an observer (which downloads), the backend may record the step once and
  // replay it (CUDA graphs).
  TANDEM_TRY(observer_ ? forward() : backend_->RunStep(n, places.ctx_bound - 1, collective_->capturable(), forward));
  for (const SeqToken& r : rows) n_past_[r.seq] += 1;
  return Status::Ok();
}

Expected<SliceSummary> Engine::SummarizeLogits(const SamplingParams& params, std::span<const int32_t> history,
                                               int64_t row) {
  backend_->UseOnThisThread();
  if (row < 0 || row >= kLogitRows) return Status::Error("logit row {} of {}", row, kLogitRows);
  auto summary = backend_->SummarizeLogits(params, ws_.logits + row * shard_.n_vocab, shard_.n_vocab,
                                          shard_.vocab_begin, history);
  TANDEM_TRY(CheckCollective());
  return summary;
}

Status Engine::CheckCollective() {
  const Status st = collective_->health();
  if (st.ok()) return st;
  return st.WithContext(fmt::format("rank {}: the step's collectives did not complete", shard_.rank));
}

Status Engine::DownloadLogits(std::vector<float>& logits, int64_t row) {
  backend_->UseOnThisThread();
  if (row < 0 || row >= kLogitRows) return Status::Error("logit row {} of {}", row, kLogitRows);
  logits.resize(static_cast<size_t>(shard_.n_vocab));
  TANDEM_TRY(backend_->Download(ws_.logits + row * shard_.n_vocab, logits.data(), logits.size() * sizeof(float)));
  return CheckCollective();
}

Status Engine::CheckTokens(std::span<const int32_t> tokens) const {
  const int64_t n_vocab = config_.shape.n_vocab;
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (tokens[t] < 0 || tokens[t] >= n_vocab) {
      return Status::Error("token id {} at index {} is outside the vocabulary of {}", tokens[t], t, n_vocab);
    }
  }
  return Status::Ok();
}

// ws_.rows for n rows: tokens [0, n), sequences [n, 2n), positions [2n, 3n).
RowPlaces Engine::UploadRows(std::span<const int32_t> tokens, std::span<const int32_t> seq,
                             std::span<const int32_t> pos) {
  const size_t n = tokens.size();
  row_data_.resize(3 * n);
  std::copy(tokens.begin(), tokens.end(), row_data_.begin());
  std::copy(seq.begin(), seq.end(), row_data_.begin() + n);
  std::copy(pos.begin(), pos.end(), row_data_.begin() + 2 * n);
  backend_->Upload(row_data_.data(), ws_.rows, row_data_.size() * sizeof(int32_t));
  return RowPlaces{ws_.rows + n, ws_.rows + 2 * n, static_cast<int64_t>(n), *std::max_element(pos.begin(), pos.end()) + 1,
                   /*decode=*/false};
}

Status Engine::ForwardAll(int64_t seq, std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits) {
  backend_->UseOnThisThread();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return Status::Error("no tokens to run");
  if (seq < 0 || seq >= n_seq()) return Status::Error("sequence {} outside the {} of the KV cache", seq, n_seq());
  if (n_past_[seq] + n > n_ctx_) {
    return Status::Error("context full: {} cached + {} new tokens exceed the {} positions of the KV cache",
                         n_past_[seq], n, n_ctx_);
  }
  TANDEM_TRY(CheckTokens(tokens));
  for (int64_t first = 0; first < n; first += n_batch_) {
    const int64_t m = std::min(n_batch_, n - first);
    TANDEM_TRY(ForwardBatch(seq, tokens.subspan(first, m), all_logits, first + m == n, logits));
  }
  return Status::Ok();
}

Status Engine::ForwardBatch(int64_t seq, std::span<const int32_t> tokens, bool all_logits, bool last_batch,
                            std::vector<float>* logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 1 && (all_logits || last_batch)) {  // a decode step
    const SeqToken row{seq, tokens[0]};
    TANDEM_TRY(StepBatch(std::span(&row, 1)));
    return logits != nullptr ? AppendLogits(1, *logits) : Status::Ok();
  }
  std::vector<int32_t> seqs(static_cast<size_t>(n), static_cast<int32_t>(seq)), pos(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) pos[t] = static_cast<int32_t>(n_past_[seq] + t);
  TANDEM_TRY(Blocks(UploadRows(tokens, seqs, pos)));
  n_past_[seq] += n;
  if (all_logits) {
    for (int64_t first = 0; first < n; first += kLogitRows) {
      const int64_t rows = std::min(kLogitRows, n - first);
      LmHeadProducts(first, rows);
      TANDEM_TRY(AppendLogits(rows, *logits));
    }
  } else if (last_batch) {
    LmHeadProducts(n - 1, 1);
    if (logits != nullptr) TANDEM_TRY(AppendLogits(1, *logits));
  }
  return Status::Ok();
}

// The embedding and every layer for the rows' tokens (the first n_rows of ws_.rows) at
// their places.
Status Engine::Blocks(const RowPlaces& rows) {
  const ModelShape& s = config_.shape;
  const int64_t n = rows.n_rows;
  backend_->Embed(weights_.token_embd, ws_.rows, n, ws_.x);
  Observe("embd", -1, ws_.x, n, s.n_embd);
  // Each block's input norm is applied by the op that adds the previous block's output
  // (AddRmsNorm): only the first layer's stands alone.
  backend_->RmsNorm(ws_.x, weights_.layers[0].attn_norm, n, s.n_embd, s.rms_eps, ws_.xn);
  for (int l = 0; l < static_cast<int>(s.n_layer); ++l) {
    TANDEM_TRY(Attention(l, rows));
    TANDEM_TRY(Moe(l, n));
    Observe("layer_out", l, ws_.x, n, s.n_embd);
  }
  return Status::Ok();
}

// This rank's logits of batch rows [first, first + rows) into ws_.logits (ws_.xn holds the
// output norm of every row since the last layer).
void Engine::LmHeadProducts(int64_t first, int64_t rows) {
  const ModelShape& s = config_.shape;
  float* xn = ws_.xn + first * s.n_embd;
  Observe("output_norm", -1, xn, rows, s.n_embd);
  backend_->MatMul(weights_.output, xn, rows, ws_.logits);
  Observe("logits", -1, ws_.logits, rows, shard_.n_vocab);
}

// Appends the first `rows` rows of ws_.logits to `logits` (waits for the device).
Status Engine::AppendLogits(int64_t rows, std::vector<float>& logits) {
  const int64_t n_local = shard_.n_vocab;
  const size_t at = logits.size();
  logits.resize(at + static_cast<size_t>(rows * n_local));
  TANDEM_TRY(
      backend_->Download(ws_.logits, logits.data() + at, static_cast<uint64_t>(rows * n_local) * sizeof(float)));
  return CheckCollective();
}

Status Engine::GatherLogits(std::span<const float> mine, int64_t rows, std::vector<float>& whole) {
  backend_->UseOnThisThread();
  const int64_t n_local = shard_.n_vocab, n_vocab = config_.shape.n_vocab;
  if (static_cast<int64_t>(mine.size()) != rows * n_local) {
    return Status::Error("gather logits: {} values for {} rows of {}", mine.size(), rows, n_local);
  }
  const bool root = collective_->rank() == 0;
  whole.clear();
  if (collective_->size() == 1) {  // nothing to gather (and no collective over device memory needed)
    whole.assign(mine.begin(), mine.end());
    return Status::Ok();
  }
  for (int64_t r = 0; r < rows; ++r) {
    backend_->Upload(mine.data() + r * n_local, ws_.logits, static_cast<uint64_t>(n_local) * sizeof(float));
    TANDEM_TRY(collective_->Gather(ws_.logits, vocab_counts_, ws_.logits_row, 0));
    if (!root) continue;
    const size_t at = whole.size();
    whole.resize(at + static_cast<size_t>(n_vocab));
    TANDEM_TRY(backend_->Download(ws_.logits_row, whole.data() + at, static_cast<uint64_t>(n_vocab) * sizeof(float)));
  }
  return CheckCollective();
}

Status Engine::Attention(int layer, const RowPlaces& rows) {
  const ModelShape& s = config_.shape;
  const int64_t n = rows.n_rows;
  const LayerWeights& w = weights_.layers[layer];
  Backend& b = *backend_;
  const int64_t embd = s.n_embd, hd = s.head_dim, n_head = shard_.n_head(s), n_kv_head = shard_.n_kv_head;
  const int64_t q_dim = n_head * hd, kv_dim = n_kv_head * hd;
  Observe("attn_norm", layer, ws_.xn, n, embd);
  const Backend::MatMulJob qkv[] = {{&w.wq, ws_.xn, ws_.q}, {&w.wk, ws_.xn, ws_.k}, {&w.wv, ws_.xn, ws_.v}};
  b.MatMuls(qkv, n);
  Observe("q", layer, ws_.q, n, q_dim);
  Observe("k", layer, ws_.k, n, kv_dim);
  Observe("v", layer, ws_.v, n, kv_dim);
  if (OverlapsQkNorm(rows)) {
    TANDEM_TRY(AttentionAroundQkNorm(layer, rows));
  } else {
    // qwen3moe: one norm per head. minimax-m2: one norm over each token's whole q (and k)
    // projection, which spans the ranks: their sums of squares are all-reduced first.
    QkNorm norm{w.q_norm, w.k_norm, config_.whole_qk_norm, QkScales{.eps = s.rms_eps}};
    if (norm.whole) {
      SumQkSquares(n);
      TANDEM_TRY(collective_->AllReduceSum(ws_.qk_sums, 2 * n));
      norm.scales = WholeQkScales();
    }
    b.HeadNormRopeStore(layer, rope_, norm, ws_.q, ws_.k, ws_.v, n_head, n_kv_head, hd, rows);
    Observe("q_rope", layer, ws_.q, n, q_dim);
    Observe("k_rope", layer, ws_.k, n, kv_dim);
    b.Attention(layer, ws_.q, n_head, rows, ws_.attn);
  }
  Observe("attn", layer, ws_.attn, n, q_dim);
  b.MatMul(w.wo, ws_.attn, n, ws_.block_out);
  TANDEM_TRY(collective_->AllReduceSum(ws_.block_out, n * embd));
  Observe("attn_out", layer, ws_.block_out, n, embd);
  b.AddRmsNorm(ws_.x, ws_.block_out, w.ffn_norm, n, embd, s.rms_eps, ws_.xn);
  Observe("ffn_in", layer, ws_.x, n, embd);
  return Status::Ok();
}

// minimax-m2's q/k norm: each rank's part of every row's sums of squares of q and of k,
// into one message for the all-reduce.
void Engine::SumQkSquares(int64_t n) {
  const ModelShape& s = config_.shape;
  const int64_t hd = s.head_dim;
  backend_->SumSquares(ws_.q, n, shard_.n_head(s) * hd, ws_.qk_sums);
  backend_->SumSquares(ws_.k, n, shard_.n_kv_head * hd, ws_.qk_sums + n);
}

// The scales of the rows' q and k from their all-reduced sums of squares.
QkScales Engine::WholeQkScales() const {
  const ModelShape& s = config_.shape;
  return QkScales{ws_.qk_sums, int64_t{s.n_head} * s.head_dim, int64_t{s.n_head_kv} * s.head_dim, s.rms_eps};
}

bool Engine::OverlapsQkNorm(const RowPlaces& rows) const {
  return ws_.scores != nullptr && rows.decode && overlap_qk_norm_.value_or(collective_->overlaps());
}

// minimax-m2's decode attention with its q/k norm's all-reduce in flight. The norm scales
// each row's q (and k) by one number, and RoPE is linear, so q and k are weighted and
// rotated before the scale is known and q's scores against the cached keys (at depth the
// long part) computed while the sums travel; only the softmax, the V pass and the new key
// wait for them. The rows' new keys are stored unscaled first and replaced once scaled.
Status Engine::AttentionAroundQkNorm(int layer, const RowPlaces& rows) {
  const ModelShape& s = config_.shape;
  const LayerWeights& w = weights_.layers[layer];
  Backend& b = *backend_;
  const int64_t n = rows.n_rows, hd = s.head_dim, n_head = shard_.n_head(s), n_kv_head = shard_.n_kv_head;
  SumQkSquares(n);
  TANDEM_TRY(collective_->StartAllReduceSum(ws_.qk_sums, 2 * n));
  const QkNorm weights_only{w.q_norm, w.k_norm, /*whole=*/true, QkScales{.eps = s.rms_eps}};
  b.HeadNormRopeStore(layer, rope_, weights_only, ws_.q, ws_.k, ws_.v, n_head, n_kv_head, hd, rows);
  b.AttentionScores(layer, ws_.q, n_head, rows, ws_.scores);
  TANDEM_TRY(collective_->FinishAllReduceSum());
  b.AttentionFromScores(layer, ws_.q, ws_.k, n_head, rows, WholeQkScales(), ws_.scores, ws_.attn);
  return Status::Ok();
}

Status Engine::Moe(int layer, int64_t n) {
  const ModelShape& s = config_.shape;
  const LayerWeights& w = weights_.layers[layer];
  Backend& b = *backend_;
  const int64_t embd = s.n_embd;
  Observe("ffn_norm", layer, ws_.xn, n, embd);
  b.MatMul(w.router, ws_.xn, n, ws_.router_logits);
  Observe("router_logits", layer, ws_.router_logits, n, s.n_expert);
  RouterParams router;
  router.n_expert = s.n_expert;
  router.n_used = s.n_expert_used;
  router.sigmoid = config_.sigmoid_gating;
  router.bias = w.expert_bias.data;
  router.norm_topk = config_.norm_topk;
  router.weights_scale = config_.expert_weights_scale;
  b.Route(router, ws_.router_logits, n, ws_.expert_ids, ws_.expert_weights);
  const ExpertShape experts{shard_.expert_begin, shard_.n_expert, shard_.n_ff, embd, s.n_expert_used};
  b.MoeExperts(w, experts, ws_.xn, n, ws_.expert_ids, ws_.expert_weights, ws_.block_out);
  TANDEM_TRY(collective_->AllReduceSum(ws_.block_out, n * embd));
  Observe("moe_out", layer, ws_.block_out, n, embd);
  // The next layer's input norm, or the output norm after the last layer.
  const bool last = layer + 1 == static_cast<int>(s.n_layer);
  b.AddRmsNorm(ws_.x, ws_.block_out, last ? weights_.output_norm : weights_.layers[layer + 1].attn_norm, n, embd,
               s.rms_eps, ws_.xn);
  return Status::Ok();
}

}  // namespace tandem
