// The CUDA backend: one device, one stream. Weights are uploaded once (each matrix packed
// contiguous: a strided column slice is repacked row by row), the KV cache and the
// workspace live in device memory, and every op is a kernel of kernels/cuda queued on the
// stream. Ops return nothing: the first failure is kept and reported by the next Download,
// which is also the only point where the host waits for the device.
//
// Built only when CUDA is (TANDEM_HAVE_CUDA); engine/backend_factory.h picks it by name.
#pragma once

#include <cuda_runtime_api.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda_op_timer.h"
#include "kernels/cuda/activation_mode.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/side_stream.h"

namespace tandem {

struct CudaBackendOptions {
  int device = 0;  // CUDA device ordinal
  // How the products take their activations: kLikeGgml (int8 with dp4a, like llama.cpp;
  // the fast path) or kNone (f32, the CPU reference's own products).
  ActivationRounding activations = ActivationRounding::kLikeGgml;
};

class CudaBackend final : public Backend {
 public:
  // Ok when `device` is a CUDA device here; else an error naming the fix.
  static Status CheckDevice(int device);
  static Expected<std::unique_ptr<CudaBackend>> Create(const CudaBackendOptions& options);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string_view name() const override { return "cuda"; }
  void UseOnThisThread() override;
  cudaStream_t stream() const { return stream_; }
  int device() const { return device_; }
  uint64_t weight_bytes() const { return weight_bytes_; }

  Expected<void*> Allocate(uint64_t bytes) override;
  Expected<ModelWeights> PlaceWeights(const ModelWeights& host) override;
  Status CreateKvCache(const KvShape& shape) override;
  uint64_t kv_bytes() const override { return kv_bytes_; }
  void Upload(const void* host, void* dst, uint64_t bytes) override;
  Status Download(const void* src, void* host, uint64_t bytes) override;

  void Embed(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* x) override;
  void RmsNorm(const float* x, const WeightVector& w, int64_t rows, int64_t n, float eps, float* y) override;
  void AddRmsNorm(float* x, const float* add, const WeightVector& w, int64_t rows, int64_t n, float eps,
                  float* y) override;
  void SumSquares(const float* x, int64_t rows, int64_t n, float* sums) override;
  void MatMul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) override;
  // Up to 8 rows: the first job on the backend's stream, the others on side streams forked
  // from it and joined back (parallel branches of a recorded step); more rows: one by one.
  void MatMuls(std::span<const MatMulJob> jobs, int64_t n_tokens) override;
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
  // Penalties and the best candidates on the device (kernels/cuda/logit_summary.h); only
  // the candidates and the chunks' softmax sums are downloaded. More candidates than
  // kTopKeysMaxK take the host path (the slice downloaded).
  Expected<SliceSummary> SummarizeLogits(const SamplingParams& params, float* logits, int64_t n, int64_t vocab_begin,
                                         std::span<const int32_t> history) override;
  // While profiling, every step runs live (a replayed graph's kernels are not timed).
  void ProfileOps(bool on) override { timer_.Enable(on); }
  Expected<std::vector<OpTime>> OpTimes() override { return timer_.Collect(); }
  // The first step runs live (it sizes the scratch buffers); later ones replay a CUDA graph
  // recorded once per row count and context class (StepContextClass).
  Status RunStep(int64_t n_rows, int64_t max_pos, bool may_replay, const std::function<Status()>& record) override;
  void ForgetRecordedSteps() override;
  // Graphs recorded so far (one per row count and context class reached).
  size_t recorded_steps() const { return step_graphs_.size(); }

 private:
  // A device buffer that grows on demand (op scratch); growing waits for the stream.
  struct Scratch {
    float* data = nullptr;
    int64_t floats = 0;
  };

  CudaBackend() = default;
  // cudaMalloc checked against the device's free memory; `what` names the use in errors.
  Expected<void*> DeviceAlloc(uint64_t bytes, std::string_view what);
  Expected<float*> Grow(Scratch& scratch, int64_t floats, std::string_view what);
  // The attention kernels' arguments for `layer` (scratch included), or an error.
  Expected<AttentionArgs> AttentionOf(int layer, const float* q, int64_t n_head, const RowPlaces& rows);
  // Runs one of the attention kernels (kernels/cuda/attention.h) as op `what`.
  void RunAttention(cudaError_t (*kernel)(const AttentionArgs&, cudaStream_t), const AttentionArgs& args,
                    std::string_view what);
  // Keeps the first failure of an op (returns whether `status` is ok).
  bool Check(const Status& status, std::string_view op);
  bool CheckCuda(cudaError_t error, std::string_view op);
  void LogMemoryPlan(std::string_view stage) const;
  // The product of `w` on `stream`, in launches of up to kQuantMatMulMaxTokens rows;
  // false after a failure (kept by Check).
  bool MatMulOn(cudaStream_t stream, const WeightMatrix& w, const float* x, int64_t n_tokens, float* y);
  Expected<cudaGraphExec_t> RecordStep(int64_t context_class, const std::function<Status()>& record);
  CudaOpTimer::Scope Timed(std::string_view op) { return {timer_, stream_, op, recording_class_ == 0}; }
  // One layer's K (V) cache: [n_seq, n_ctx, n_kv_head, head_dim] of kv_.storage; a
  // sequence's part of it: [n_ctx, n_kv_head, head_dim].
  uint8_t* KLayer(int64_t layer, int64_t seq = 0) const {
    return static_cast<uint8_t*>(k_cache_) + layer * kv_layer_bytes_ + seq * kv_seq_bytes_;
  }
  uint8_t* VLayer(int64_t layer, int64_t seq = 0) const {
    return static_cast<uint8_t*>(v_cache_) + layer * kv_layer_bytes_ + seq * kv_seq_bytes_;
  }
  // Elements between two sequences' parts of a layer's cache.
  int64_t KvSeqStride() const { return kv_.n_ctx * kv_.n_kv_head * kv_.head_dim; }

  int device_ = 0;
  ActivationRounding activations_ = ActivationRounding::kLikeGgml;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  static constexpr int kSideStreams = 2;
  std::unique_ptr<SideStream> side_streams_[kSideStreams];  // MatMuls' other branches
  std::vector<void*> allocations_;  // freed in the destructor
  Status error_;                    // the first failed op since creation (sticky)
  uint64_t weight_bytes_ = 0, kv_bytes_ = 0, workspace_bytes_ = 0, scratch_bytes_ = 0;

  KvShape kv_;
  void* k_cache_ = nullptr;  // [n_layer, n_seq, n_ctx, n_kv_head, head_dim] of kv_.storage
  void* v_cache_ = nullptr;  // same
  uint64_t kv_layer_bytes_ = 0, kv_seq_bytes_ = 0;

  Scratch attention_scratch_;  // split-context partials (kernels/cuda/attention.h)
  Scratch moe_scratch_;        // expert FFN intermediates (kernels/cuda/moe_experts.h)
  Scratch summary_scratch_;    // sampling: candidate keys of two rounds, chunk stats, penalised ids

  // Recorded decode steps (RunStep).
  int64_t recording_class_ = 0;     // > 0 while recording: the context class being recorded
  bool stepped_live_ = false;       // a step ran live, so every scratch buffer has its size
  std::map<std::pair<int64_t, int64_t>, cudaGraphExec_t> step_graphs_;  // by (rows, context class)
  CudaOpTimer timer_;  // ProfileOps
};

}  // namespace tandem
