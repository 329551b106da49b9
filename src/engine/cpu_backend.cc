#include "engine/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/cpu/activation_rounding.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cpu/moe_router.h"
#include "kernels/cpu/quant.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cpu/swiglu.h"

namespace tandem {
CpuBackend::CpuBackend(const CpuBackendOptions& options)
    : pool_(std::make_unique<ThreadPool>(options.n_threads)),
      ggml_activation_rounding_(options.ggml_activation_rounding) {}

Expected<void*> CpuBackend::Allocate(uint64_t bytes) {
  try {
    allocations_.push_back(std::make_unique<uint8_t[]>(bytes));
  } catch (const std::bad_alloc&) {
    return Status::Error("cannot allocate {} bytes of host memory", bytes);
  }
  return static_cast<void*>(allocations_.back().get());
}

Status CpuBackend::CreateKvCache(const KvShape& s) {
  TANDEM_ASSIGN_OR_RETURN(kv_, KvCache::Create(s.n_layer, s.n_ctx, s.n_kv_head, s.head_dim, s.storage, s.n_seq));
  kv_dim_ = s.n_kv_head * s.head_dim;
  return Status::Ok();
}

void CpuBackend::Upload(const void* host, void* dst, uint64_t bytes) { std::memcpy(dst, host, bytes); }

Status CpuBackend::Download(const void* src, void* host, uint64_t bytes) {
  std::memcpy(host, src, bytes);
  return Status::Ok();
}

void CpuBackend::Embed(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* x) {
  HostOpClock::Scope timed(clock_, "embed");
  for (int64_t t = 0; t < n_tokens; ++t) DequantizeRow(table.type, table.row(ids[t]), x + t * table.cols, table.cols);
}

void CpuBackend::RmsNorm(const float* x, const WeightVector& w, int64_t rows, int64_t n, float eps, float* y) {
  HostOpClock::Scope timed(clock_, "rms_norm");
  for (int64_t r = 0; r < rows; ++r) tandem::RmsNorm(x + r * n, w.data, n, eps, y + r * n);
}

void CpuBackend::AddRmsNorm(float* x, const float* add, const WeightVector& w, int64_t rows, int64_t n, float eps,
                            float* y) {
  Add(x, add, rows * n);
  RmsNorm(x, w, rows, n, eps, y);
}

void CpuBackend::SumSquares(const float* x, int64_t rows, int64_t n, float* sums) {
  HostOpClock::Scope timed(clock_, "sum_squares");
  for (int64_t r = 0; r < rows; ++r) sums[r] = static_cast<float>(tandem::SumSquares(x + r * n, n));
}

void CpuBackend::MatMul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) {
  HostOpClock::Scope timed(clock_, "matmul");
  if (ggml_activation_rounding_ && w.type != GgmlType::F32) {
    rounded_.resize(static_cast<size_t>(n_tokens * w.cols));
    for (int64_t t = 0; t < n_tokens; ++t) {
      RoundActivationsLikeGgml(w.type, x + t * w.cols, w.cols, rounded_.data() + t * w.cols);
    }
    x = rounded_.data();
  }
  tandem::MatMul(w.type, w.data, w.rows, w.cols, x, n_tokens, y, pool_.get(), w.row_stride);
}

void CpuBackend::Add(float* x, const float* y, int64_t n) {
  HostOpClock::Scope timed(clock_, "add");
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void CpuBackend::Rope(const RopeParams& params, float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                      int64_t pos0) {
  HostOpClock::Scope timed(clock_, "rope");
  for (int64_t t = 0; t < n_tokens; ++t) tandem::Rope(params, x + t * n_heads * head_dim, n_heads, head_dim, pos0 + t);
}

void CpuBackend::StoreKv(int layer, int64_t seq, int64_t pos0, int64_t n_tokens, const float* k, const float* v) {
  HostOpClock::Scope timed(clock_, "store_kv");
  for (int64_t t = 0; t < n_tokens; ++t) kv_.Store(layer, seq, pos0 + t, k + t * kv_dim_, v + t * kv_dim_);
}

void CpuBackend::HeadNormRopeStore(int layer, const RopeParams& rope, const QkNorm& norm, float* q, float* k,
                                   const float* v, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
                                   const RowPlaces& rows) {
  const int64_t n = rows.n_rows, q_dim = n_head * head_dim;
  const float eps = norm.scales.eps;
  if (!norm.whole) {
    if (norm.q.data != nullptr) RmsNorm(q, norm.q, n * n_head, head_dim, eps, q);
    if (norm.k.data != nullptr) RmsNorm(k, norm.k, n * n_kv_head, head_dim, eps, k);
  } else {
    HostOpClock::Scope timed(clock_, "whole_qk_norm");
    const float* sums = norm.scales.sums;
    for (int64_t t = 0; t < n; ++t) {
      float* q_row = q + t * q_dim;
      float* k_row = k + t * kv_dim_;
      if (sums != nullptr) {
        RmsNormApply(q_row, norm.q.data, q_dim, sums[t], norm.scales.q_total, eps, q_row);
        RmsNormApply(k_row, norm.k.data, kv_dim_, sums[n + t], norm.scales.k_total, eps, k_row);
      } else {
        for (int64_t i = 0; i < q_dim; ++i) q_row[i] *= norm.q.data[i];
        for (int64_t i = 0; i < kv_dim_; ++i) k_row[i] *= norm.k.data[i];
      }
    }
  }
  for (int64_t t = 0; t < n; ++t) {
    Rope(rope, q + t * n_head * head_dim, 1, n_head, head_dim, rows.pos[t]);
    Rope(rope, k + t * n_kv_head * head_dim, 1, n_kv_head, head_dim, rows.pos[t]);
    StoreKv(layer, rows.seq[t], rows.pos[t], 1, k + t * kv_dim_, v + t * kv_dim_);
  }
}

// Runs of rows that continue one sequence (a prompt) attend as one prefill.
void CpuBackend::Attention(int layer, const float* q, int64_t n_head, const RowPlaces& rows, float* out) {
  HostOpClock::Scope timed(clock_, "attention");
  const int64_t row_floats = n_head * kv_.Keys(0, 0).head_dim;
  for (int64_t first = 0; first < rows.n_rows;) {
    int64_t end = first + 1;
    while (end < rows.n_rows && rows.seq[end] == rows.seq[first] && rows.pos[end] == rows.pos[end - 1] + 1) ++end;
    const int64_t seq = rows.seq[first];
    AttentionPrefill(q + first * row_floats, end - first, n_head, rows.pos[first], kv_.Keys(layer, seq),
                     kv_.Values(layer, seq), out + first * row_floats, pool_.get());
    first = end;
  }
}

void CpuBackend::AttentionScores(int layer, const float* q, int64_t n_head, const RowPlaces& rows, float* scores) {
  HostOpClock::Scope timed(clock_, "attention_scores");
  const int64_t hd = kv_.Keys(0, 0).head_dim, n_ctx = kv_.n_ctx();
  for (int64_t t = 0; t < rows.n_rows; ++t) {
    tandem::AttentionScores(q + t * n_head * hd, n_head, kv_.Keys(layer, rows.seq[t]), 0, rows.pos[t],
                            scores + t * n_head * n_ctx, n_ctx, pool_.get());
  }
}

void CpuBackend::AttentionFromScores(int layer, const float* q, const float* k, int64_t n_head, const RowPlaces& rows,
                                     const QkScales& scales, float* scores, float* out) {
  HostOpClock::Scope timed(clock_, "attention_from_scores");
  const int64_t hd = kv_.Keys(0, 0).head_dim, n_ctx = kv_.n_ctx(), n = rows.n_rows;
  std::vector<float> k_scaled(static_cast<size_t>(kv_dim_));
  for (int64_t t = 0; t < n; ++t) {
    const int64_t seq = rows.seq[t], pos = rows.pos[t];
    RmsNormApply(k + t * kv_dim_, nullptr, kv_dim_, scales.sums[n + t], scales.k_total, scales.eps, k_scaled.data());
    kv_.StoreKey(layer, seq, pos, k_scaled.data());
    float* row_scores = scores + t * n_head * n_ctx;
    const float* row_q = q + t * n_head * hd;
    tandem::AttentionScores(row_q, n_head, kv_.Keys(layer, seq), pos, pos + 1, row_scores, n_ctx, pool_.get());
    const float scale = RmsScale(scales.sums[t], scales.q_total, scales.eps) * (1.0f / std::sqrt(static_cast<float>(hd)));
    tandem::AttentionFromScores(row_scores, n_ctx, scale, n_head, kv_.Values(layer, seq), pos + 1,
                                out + t * n_head * hd, pool_.get());
  }
}

void CpuBackend::Route(const RouterParams& r, const float* logits, int64_t n_tokens, int32_t* ids, float* weights) {
  HostOpClock::Scope timed(clock_, "route");
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* lt = logits + t * r.n_expert;
    if (r.sigmoid) {
      RouteSigmoid(lt, r.bias, r.n_expert, r.n_used, r.weights_scale, ids + t * r.n_used, weights + t * r.n_used);
    } else {
      RouteSoftmax(lt, r.n_expert, r.n_used, r.norm_topk, ids + t * r.n_used, weights + t * r.n_used);
    }
  }
}

// Runs each expert once over the tokens that chose it, so a prompt reads every expert's
// weights at most once.
void CpuBackend::MoeExperts(const LayerWeights& w, const ExpertShape& s, const float* x, int64_t n_tokens,
                            const int32_t* ids, const float* weights, float* out) {
  HostOpClock::Scope timed(clock_, "moe_experts");
  const int64_t embd = s.n_embd, ff = s.n_ff, k = s.n_used;
  expert_users_.resize(static_cast<size_t>(s.n_expert));
  for (auto& users : expert_users_) users.clear();
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = ids[t * k + j] - s.expert_begin;
      if (e >= 0 && e < s.n_expert) expert_users_[e].push_back({t, weights[t * k + j]});
    }
  }
  std::fill_n(out, n_tokens * embd, 0.0f);
  for (int64_t e = 0; e < s.n_expert; ++e) {
    const auto& users = expert_users_[e];
    if (users.empty()) continue;
    const int64_t m = static_cast<int64_t>(users.size());
    expert_x_.resize(static_cast<size_t>(m * embd));
    for (int64_t i = 0; i < m; ++i) std::copy_n(x + users[i].first * embd, embd, expert_x_.data() + i * embd);
    expert_gate_.resize(static_cast<size_t>(m * ff));
    expert_up_.resize(expert_gate_.size());
    expert_down_.resize(expert_x_.size());
    MatMul(w.gate_exps.expert(e), expert_x_.data(), m, expert_gate_.data());
    MatMul(w.up_exps.expert(e), expert_x_.data(), m, expert_up_.data());
    SwiGlu(expert_gate_.data(), expert_up_.data(), m * ff, expert_gate_.data());
    MatMul(w.down_exps.expert(e), expert_gate_.data(), m, expert_down_.data());
    for (int64_t i = 0; i < m; ++i) {
      float* dst = out + users[i].first * embd;
      const float* src = expert_down_.data() + i * embd;
      for (int64_t c = 0; c < embd; ++c) dst[c] += users[i].second * src[c];
    }
  }
}

// Every op runs as it is issued: nothing to record.
Status CpuBackend::RunStep(int64_t, int64_t, bool, const std::function<Status()>& record) { return record(); }

Expected<SliceSummary> CpuBackend::SummarizeLogits(const SamplingParams& params, float* logits, int64_t n,
                                                   int64_t vocab_begin, std::span<const int32_t> history) {
  return PenaliseAndSummarize(params, std::span(logits, static_cast<size_t>(n)), vocab_begin, history);
}

void CpuBackend::FillKvSynthetic(int64_t seq, int64_t n_pos) {
  std::vector<float> k(static_cast<size_t>(kv_dim_)), v(static_cast<size_t>(kv_dim_));
  uint32_t state = 0x9e3779b9u;
  auto next = [&state] {  // xorshift32 -> [-1, 1)
    state ^= state << 13, state ^= state >> 17, state ^= state << 5;
    return static_cast<float>(state >> 8) / 8388608.0f - 1.0f;
  };
  for (int64_t layer = 0; layer < kv_.n_layer(); ++layer) {
    for (int64_t pos = 0; pos < n_pos; ++pos) {
      for (int64_t i = 0; i < kv_dim_; ++i) k[i] = next(), v[i] = next();
      kv_.Store(layer, seq, pos, k.data(), v.data());
    }
  }
}

}  // namespace tandem
