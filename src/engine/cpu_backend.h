// The reference backend: host memory, weights read in place from the GGUF map, ops from
// kernels/cpu multithreaded over a pool. Every op finishes before it returns.
#pragma once

#include <memory>
#include <vector>

#include "common/thread_pool.h"
#include "engine/backend.h"
#include "engine/kv_cache.h"

namespace tandem {

struct CpuBackendOptions {
  int n_threads = 0;  // 0: all cores
  // Round activations like ggml's CPU backend before each quantized product (see
  // kernels/cpu/activation_rounding.h): for comparisons with llama.cpp only.
  bool ggml_activation_rounding = false;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options);

  std::string_view name() const override { return "cpu"; }
  int n_threads() const { return pool_->size(); }

  Expected<void*> Allocate(uint64_t bytes) override;
  Expected<ModelWeights> PlaceWeights(const ModelWeights& host) override { return host; }
  Status CreateKvCache(const KvShape& shape) override;
  uint64_t kv_bytes() const override { return kv_.bytes(); }
  void Upload(const void* host, void* dst, uint64_t bytes) override;
  Status Download(const void* src, void* host, uint64_t bytes) override;

  void Embed(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* x) override;
  void RmsNorm(const float* x, const WeightVector& w, int64_t rows, int64_t n, float eps, float* y) override;
  void AddRmsNorm(float* x, const float* add, const WeightVector& w, int64_t rows, int64_t n, float eps,
                  float* y) override;
  void SumSquares(const float* x, int64_t rows, int64_t n, float* sums) override;
  void MatMul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) override;
  void MatMuls(std::span<const MatMulJob> jobs, int64_t n_tokens) override {
    for (const MatMulJob& j : jobs) MatMul(*j.w, j.x, n_tokens, j.y);
  }
  void Add(float* x, const float* y, int64_t n) override;
  void Rope(const RopeParams& params, float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
            int64_t pos0) override;
  void StoreKv(int layer, int64_t seq, int64_t pos0, int64_t n_tokens, const float* k, const float* v) override;
  void HeadNormRopeStore(int layer, const RopeParams& rope, const QkNorm& norm, float* q, float* k, const float* v,
                         int64_t n_head, int64_t n_kv_head, int64_t head_dim, const RowPlaces& rows) override;
  void Attention(int layer, const float* q, int64_t n_head, const RowPlaces& rows, float* out) override;
  void AttentionScores(int layer, const float* q, int64_t n_head, const RowPlaces& rows, float* scores) override;
  void AttentionFromScores(int layer, const float* q, const float* k, int64_t n_head, const RowPlaces& rows,
                           const QkScales& scales, float* scores, float* out) override;
  void Route(const RouterParams& router, const float* logits, int64_t n_tokens, int32_t* ids,
             float* weights) override;
  void MoeExperts(const LayerWeights& w, const ExpertShape& shape, const float* x, int64_t n_tokens,
                  const int32_t* ids, const float* weights, float* out) override;
  void FillKvSynthetic(int64_t seq, int64_t n_pos) override;
  Expected<SliceSummary> SummarizeLogits(const SamplingParams& params, float* logits, int64_t n, int64_t vocab_begin,
                                         std::span<const int32_t> history) override;
  void ProfileOps(bool on) override { clock_.Enable(on); }
  Expected<std::vector<OpTime>> OpTimes() override { return clock_.List(); }
  Status RunStep(int64_t n_rows, int64_t max_pos, bool may_replay, const std::function<Status()>& record) override;
  void ForgetRecordedSteps() override {}  // it records nothing

 private:
  std::unique_ptr<ThreadPool> pool_;
  bool ggml_activation_rounding_ = false;
  std::vector<std::unique_ptr<uint8_t[]>> allocations_;
  KvCache kv_;
  int64_t kv_dim_ = 0;  // n_kv_head * head_dim
  HostOpClock clock_;
  std::vector<float> rounded_;  // [n_tokens, cols] activations rounded like ggml
  // MoeExperts scratch: the tokens of one expert gathered, and its FFN intermediates.
  std::vector<std::vector<std::pair<int64_t, float>>> expert_users_;  // per expert: (token, weight)
  std::vector<float> expert_x_, expert_gate_, expert_up_, expert_down_;
};

}  // namespace tandem
