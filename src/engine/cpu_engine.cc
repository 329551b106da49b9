#include "engine/cpu_engine.h"

#include "common/log.h"
#include "kernels/cpu/activation_rounding.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cpu/moe_router.h"
#include "kernels/cpu/quant.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/swiglu.h"

namespace tandem {
namespace {

// Rows [first, first + count) of a matrix, as a matrix.
WeightMatrix RowSlice(const WeightMatrix& w, int64_t first, int64_t count) {
  return WeightMatrix{w.type, w.row(first), count, w.cols};
}

// Each of n_rows rows of x: [n_rows, n] normalised with the weight w: [n] into y.
void RmsNormRows(const float* x, const WeightVector& w, int64_t n_rows, int64_t n, float eps, float* y) {
  for (int64_t r = 0; r < n_rows; ++r) RmsNorm(x + r * n, w.data, n, eps, y + r * n);
}

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

Expected<std::unique_ptr<CpuEngine>> CpuEngine::Load(const std::string& path, const EngineOptions& options) {
  std::unique_ptr<CpuEngine> e(new CpuEngine());
  TANDEM_ASSIGN_OR_RETURN(e->model_, GgufModel::Open(path));
  const Tensor* embd = e->model_.Find("token_embd.weight");
  uint32_t n_vocab_hint = embd != nullptr ? static_cast<uint32_t>(embd->ne(1)) : 0;
  auto config = ReadModelConfig(e->model_.metadata(), n_vocab_hint);
  if (!config.ok()) return config.status().WithContext(path);
  e->config_ = *config;
  auto weights = ModelWeights::Bind(e->model_, e->config_);
  if (!weights.ok()) return weights.status().WithContext(path);
  e->weights_ = std::move(weights).value();
  const ModelShape& s = e->config_.shape;
  TANDEM_ASSIGN_OR_RETURN(e->kv_, KvCache::Create(s.n_layer, options.n_ctx, s.n_head_kv, s.head_dim,
                                                  options.kv_storage));
  e->pool_ = std::make_unique<ThreadPool>(options.n_threads);
  e->ggml_activation_rounding_ = options.ggml_activation_rounding;
  Log(Subsystem::kEngine)
      .info("loaded {}: {} layers, KV cache {} positions = {:.1f} MiB, {} threads", path, s.n_layer, options.n_ctx,
            static_cast<double>(e->kv_.bytes()) / (1 << 20), e->pool_->size());
  return e;
}

void CpuEngine::MatMulRows(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) {
  if (ggml_activation_rounding_ && w.type != GgmlType::F32) {
    rounded_.resize(static_cast<size_t>(n_tokens * w.cols));
    for (int64_t t = 0; t < n_tokens; ++t) {
      RoundActivationsLikeGgml(w.type, x + t * w.cols, w.cols, rounded_.data() + t * w.cols);
    }
    x = rounded_.data();
  }
  MatMul(w.type, w.data, w.rows, w.cols, x, n_tokens, y, pool_.get());
}

void CpuEngine::Observe(std::string_view name, int layer, const std::vector<float>& data, int64_t n_tokens) const {
  if (observer_) observer_(name, layer, data.data(), n_tokens, static_cast<int64_t>(data.size()) / n_tokens);
}

Status CpuEngine::Forward(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits) {
  const ModelShape& s = config_.shape;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return Status::Error("no tokens to run");
  if (n_past_ + n > kv_.n_ctx()) {
    return Status::Error("context full: {} cached + {} new tokens exceed the {} positions of the KV cache", n_past_,
                         n, kv_.n_ctx());
  }
  const int64_t embd = s.n_embd;
  std::vector<float> x(static_cast<size_t>(n * embd));
  for (int64_t t = 0; t < n; ++t) {
    int32_t id = tokens[t];
    if (id < 0 || id >= static_cast<int64_t>(s.n_vocab)) {
      return Status::Error("token id {} at index {} is outside the vocabulary of {}", id, t, s.n_vocab);
    }
    DequantizeRow(weights_.token_embd.type, weights_.token_embd.row(id), x.data() + t * embd, embd);
  }
  Observe("embd", -1, x, n);
  for (int l = 0; l < static_cast<int>(s.n_layer); ++l) {
    Attention(l, n, x);
    Moe(l, n, x);
    Observe("layer_out", l, x, n);
  }
  const int64_t first = all_logits ? 0 : n - 1;
  const int64_t rows = n - first;
  std::vector<float> xn(static_cast<size_t>(rows * embd));
  RmsNormRows(x.data() + first * embd, weights_.output_norm, rows, embd, s.rms_eps, xn.data());
  Observe("output_norm", -1, xn, rows);
  logits.assign(static_cast<size_t>(rows * weights_.output.rows), 0.0f);
  MatMulRows(weights_.output, xn.data(), rows, logits.data());
  Observe("logits", -1, logits, rows);
  n_past_ += n;
  return Status::Ok();
}

void CpuEngine::Attention(int layer, int64_t n, std::vector<float>& x) {
  const ModelShape& s = config_.shape;
  const LayerWeights& w = weights_.layers[layer];
  const int64_t embd = s.n_embd, hd = s.head_dim;
  const int64_t q_dim = int64_t{s.n_head} * hd, kv_dim = int64_t{s.n_head_kv} * hd;
  std::vector<float> xn(x.size());
  RmsNormRows(x.data(), w.attn_norm, n, embd, s.rms_eps, xn.data());
  Observe("attn_norm", layer, xn, n);
  std::vector<float> q(static_cast<size_t>(n * q_dim)), k(static_cast<size_t>(n * kv_dim)), v(k.size());
  MatMulRows(w.wq, xn.data(), n, q.data());
  MatMulRows(w.wk, xn.data(), n, k.data());
  MatMulRows(w.wv, xn.data(), n, v.data());
  Observe("q", layer, q, n);
  Observe("k", layer, k, n);
  Observe("v", layer, v, n);
  for (int64_t t = 0; t < n; ++t) {
    float* qt = q.data() + t * q_dim;
    float* kt = k.data() + t * kv_dim;
    if (config_.whole_qk_norm) {
      RmsNorm(qt, w.q_norm.data, q_dim, s.rms_eps, qt);
      RmsNorm(kt, w.k_norm.data, kv_dim, s.rms_eps, kt);
    } else {
      RmsNormGroups(qt, w.q_norm.data, s.n_head, hd, s.rms_eps, qt);
      RmsNormGroups(kt, w.k_norm.data, s.n_head_kv, hd, s.rms_eps, kt);
    }
  }
  Observe("q_normed", layer, q, n);
  Observe("k_normed", layer, k, n);
  const RopeParams rope = MakeRope(config_);
  for (int64_t t = 0; t < n; ++t) {
    Rope(rope, q.data() + t * q_dim, s.n_head, hd, n_past_ + t);
    Rope(rope, k.data() + t * kv_dim, s.n_head_kv, hd, n_past_ + t);
    kv_.Store(layer, n_past_ + t, k.data() + t * kv_dim, v.data() + t * kv_dim);
  }
  Observe("q_rope", layer, q, n);
  Observe("k_rope", layer, k, n);
  std::vector<float> attn(q.size());
  AttentionPrefill(q.data(), n, s.n_head, n_past_, kv_.Keys(layer), kv_.Values(layer), attn.data(), pool_.get());
  Observe("attn", layer, attn, n);
  std::vector<float> out(x.size());
  MatMulRows(w.wo, attn.data(), n, out.data());
  Observe("attn_out", layer, out, n);
  for (size_t i = 0; i < x.size(); ++i) x[i] += out[i];
  Observe("ffn_in", layer, x, n);
}

void CpuEngine::Moe(int layer, int64_t n, std::vector<float>& x) {
  const ModelShape& s = config_.shape;
  const LayerWeights& w = weights_.layers[layer];
  const int64_t embd = s.n_embd, ff = s.n_ff_exp, k = s.n_expert_used, n_expert = s.n_expert;
  std::vector<float> xn(x.size());
  RmsNormRows(x.data(), w.ffn_norm, n, embd, s.rms_eps, xn.data());
  Observe("ffn_norm", layer, xn, n);
  std::vector<float> logits(static_cast<size_t>(n * n_expert));
  MatMulRows(w.router, xn.data(), n, logits.data());
  Observe("router_logits", layer, logits, n);

  // Route every token, then run each expert once over the tokens that chose it.
  std::vector<int32_t> ids(static_cast<size_t>(n * k));
  std::vector<float> gate_w(ids.size());
  std::vector<std::vector<std::pair<int64_t, float>>> users(static_cast<size_t>(n_expert));  // (token, weight)
  for (int64_t t = 0; t < n; ++t) {
    const float* lt = logits.data() + t * n_expert;
    if (config_.sigmoid_gating) {
      RouteSigmoid(lt, w.expert_bias.data, n_expert, k, config_.expert_weights_scale, ids.data() + t * k,
                   gate_w.data() + t * k);
    } else {
      RouteSoftmax(lt, n_expert, k, config_.norm_topk, ids.data() + t * k, gate_w.data() + t * k);
    }
    for (int64_t j = 0; j < k; ++j) users[ids[t * k + j]].push_back({t, gate_w[t * k + j]});
  }
  std::vector<float> moe(x.size(), 0.0f);
  std::vector<float> xin, gate, up, down;
  for (int64_t e = 0; e < n_expert; ++e) {
    const auto& tokens = users[e];
    if (tokens.empty()) continue;
    const int64_t m = static_cast<int64_t>(tokens.size());
    xin.resize(static_cast<size_t>(m * embd));
    for (int64_t i = 0; i < m; ++i) {
      std::copy_n(xn.data() + tokens[i].first * embd, embd, xin.data() + i * embd);
    }
    gate.resize(static_cast<size_t>(m * ff));
    up.resize(gate.size());
    down.resize(xin.size());
    MatMulRows(RowSlice(w.gate_exps, e * ff, ff), xin.data(), m, gate.data());
    MatMulRows(RowSlice(w.up_exps, e * ff, ff), xin.data(), m, up.data());
    SwiGlu(gate.data(), up.data(), m * ff, gate.data());
    MatMulRows(RowSlice(w.down_exps, e * embd, embd), gate.data(), m, down.data());
    for (int64_t i = 0; i < m; ++i) {
      float* dst = moe.data() + tokens[i].first * embd;
      const float* src = down.data() + i * embd;
      for (int64_t c = 0; c < embd; ++c) dst[c] += tokens[i].second * src[c];
    }
  }
  Observe("moe_out", layer, moe, n);
  for (size_t i = 0; i < x.size(); ++i) x[i] += moe[i];
}

}  // namespace tandem
