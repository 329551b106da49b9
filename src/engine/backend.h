// What the forward pass needs from a device: memory, weights placed in it, and the ops of
// one transformer block. The forward (engine/engine.h) is written once over this
// interface; the CPU backend is the reference, a CUDA backend runs the same calls as
// kernels on one stream.
//
// Every pointer an op takes lives in the backend's memory (Allocate, PlaceWeights, the
// KV cache); activations are f32, row-major [n_tokens, n]. Ops are ordered: a backend
// may run them asynchronously, and Download waits for all earlier ops.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "common/status.h"
#include "engine/model_weights.h"
#include "engine/op_profile.h"
#include "engine/sampler.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/rope.h"

namespace tandem {

// How a layer's router turns logits into k experts and their weights.
struct RouterParams {
  int64_t n_expert = 0;
  int64_t n_used = 0;            // k
  bool sigmoid = false;          // minimax-m2: sigmoid scores, top-k on score + bias
  const float* bias = nullptr;   // [n_expert] selection bias (sigmoid routers), or null
  bool norm_topk = true;         // softmax routers: renormalise the k weights to sum 1
  float weights_scale = 1.0f;    // sigmoid routers: scale applied after normalising
};

// The expert FFNs of one layer a rank holds: experts [expert_begin, expert_begin +
// n_expert) of the model's (all of them under expert-TP), n_ff rows each.
struct ExpertShape {
  int64_t expert_begin = 0;  // model id of the rank's expert 0
  int64_t n_expert = 0;
  int64_t n_ff = 0;    // rows of each expert's gate/up, columns of its down
  int64_t n_embd = 0;
  int64_t n_used = 0;  // experts per token
};

struct KvShape {
  int64_t n_layer = 0;
  int64_t n_ctx = 0;      // positions of each sequence
  int64_t n_kv_head = 0;  // heads this shard holds
  int64_t head_dim = 0;
  KvStorage storage = KvStorage::kF16;
  int64_t n_seq = 1;      // sequences (slots), each with its own n_ctx positions
};

// Where the rows of a forward step sit in the KV cache: row t is a token of sequence
// seq[t] at position pos[t], and attends to that sequence's positions [0, pos[t]]. A
// prompt's rows share a sequence at consecutive positions; a batched decode step has one
// row per sequence.
struct RowPlaces {
  const int32_t* seq = nullptr;  // backend memory [n_rows]: the slot of each row
  const int32_t* pos = nullptr;  // backend memory [n_rows]: its position
  int64_t n_rows = 0;
  int64_t ctx_bound = 0;         // > every pos[t]
  bool decode = false;           // one row per sequence: each row its sequence's only new position
};

// Row t's q and k RMS scales of a norm that spans the ranks (minimax-m2's whole-projection
// q/k norm), from the all-reduced sums of squares: 1 / sqrt(sum / total + eps).
struct QkScales {
  const float* sums = nullptr;  // backend memory [2, n_rows]: q's sums of squares, then k's
  int64_t q_total = 0;          // values each q norm spans: n_head * head_dim of the whole model
  int64_t k_total = 0;          // n_kv_head * head_dim of the whole model
  float eps = 0;
};

// How HeadNormRopeStore normalises q and k.
struct QkNorm {
  WeightVector q, k;  // data null: no norm
  // false (qwen3moe): q, k: [head_dim], each head RMS-normalised on its own.
  // true (minimax-m2): q: [n_head * head_dim], k: [n_kv_head * head_dim], the rank's slices
  // of one norm over each row's whole projection, which spans the ranks: row t scaled as
  // `scales` says, then weighted; scales.sums null: only weighted (the scale comes later,
  // AttentionFromScores).
  bool whole = false;
  QkScales scales;  // eps for either kind; the rest for whole only
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Points the calling thread at this backend's device (CUDA: its current device), so that
  // its ops reach it. The engine calls it on entry: a rank's calls may come from another
  // thread than the one that made the backend (a worker's follower, rank 0's scheduler),
  // and a box with several GPUs runs a rank on each.
  virtual void UseOnThisThread() {}

  // Memory that lives as long as the backend.
  virtual Expected<void*> Allocate(uint64_t bytes) = 0;
  // The same weights, readable by this backend's ops (the CPU uses the GGUF map in place).
  virtual Expected<ModelWeights> PlaceWeights(const ModelWeights& host) = 0;
  virtual Status CreateKvCache(const KvShape& shape) = 0;
  virtual uint64_t kv_bytes() const = 0;

  virtual void Upload(const void* host, void* dst, uint64_t bytes) = 0;
  // Waits for every earlier op, then copies; errors of earlier ops surface here.
  virtual Status Download(const void* src, void* host, uint64_t bytes) = 0;

  // x: [n_tokens, table.cols] = rows ids[0..n_tokens) of table.
  virtual void Embed(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* x) = 0;
  // Each of the `rows` rows of x: [rows, n] normalised and scaled by w: [n] into y (may be x).
  virtual void RmsNorm(const float* x, const WeightVector& w, int64_t rows, int64_t n, float eps, float* y) = 0;
  // x += add, then y = RmsNorm(x) scaled by w: the residual add and the next norm as one
  // op; x, add, y: [rows, n] (y not x).
  virtual void AddRmsNorm(float* x, const float* add, const WeightVector& w, int64_t rows, int64_t n, float eps,
                          float* y) = 0;
  // sums: [rows] = the sum of squares of each row of x: [rows, n] (a rank's part of a
  // norm that spans several ranks).
  virtual void SumSquares(const float* x, int64_t rows, int64_t n, float* sums) = 0;
  // y: [n_tokens, w.rows] = x: [n_tokens, w.cols] times w's rows.
  virtual void MatMul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) = 0;
  // Independent products of the same n_tokens rows (no job reads another's output): a
  // backend may run them at once (the attention's q, k and v).
  struct MatMulJob {
    const WeightMatrix* w;
    const float* x;
    float* y;
  };
  virtual void MatMuls(std::span<const MatMulJob> jobs, int64_t n_tokens) = 0;
  // x += y, n elements.
  virtual void Add(float* x, const float* y, int64_t n) = 0;
  // x: [n_tokens, n_heads, head_dim], token t at position pos0 + t, rotated in place.
  virtual void Rope(const RopeParams& params, float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                    int64_t pos0) = 0;
  // k, v: [n_tokens, n_kv_head, head_dim] stored at positions pos0 .. pos0 + n_tokens - 1
  // of sequence `seq`.
  virtual void StoreKv(int layer, int64_t seq, int64_t pos0, int64_t n_tokens, const float* k, const float* v) = 0;
  // The rest of attention's input as one op: q: [n_rows, n_head, head_dim] and k: [n_rows,
  // n_kv_head, head_dim] normalised as `norm` says, rotated by Rope at each row's position,
  // then k and v stored at each row's place. Equal to RmsNorm (per head, or RmsNormApply
  // with the given sums, or the weights alone), Rope and StoreKv in that order.
  virtual void HeadNormRopeStore(int layer, const RopeParams& rope, const QkNorm& norm, float* q, float* k,
                                 const float* v, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
                                 const RowPlaces& rows) = 0;
  // Causal attention of q: [n_rows, n_head, head_dim] against the cached positions
  // [0, pos[t]] of each row's sequence in `layer`; out has q's shape.
  virtual void Attention(int layer, const float* q, int64_t n_head, const RowPlaces& rows, float* out) = 0;
  // A decode step's attention (rows.decode) in two halves around q's and k's RMS scales,
  // whose sums are being all-reduced meanwhile (minimax-m2; Engine::Attention). q and k
  // come weighted and rotated but not scaled, k and v already stored at each row's place.
  // AttentionScores: scores: [n_rows, n_head, n_ctx] gets q . k of row t against the
  // cached positions [0, pos[t]) of its sequence (not scaled, nor divided by sqrt(head_dim)).
  virtual void AttentionScores(int layer, const float* q, int64_t n_head, const RowPlaces& rows, float* scores) = 0;
  // Then: row t's k: [n_rows, n_kv_head, head_dim] times its scale replaces the one stored
  // at pos[t], q's score against it joins `scores`, and out: [n_rows, n_head, head_dim] =
  // softmax(q's scale * scores / sqrt(head_dim)) times V. Equal to HeadNormRopeStore of
  // the scaled q and k, then Attention, up to rounding.
  virtual void AttentionFromScores(int layer, const float* q, const float* k, int64_t n_head,
                                   const RowPlaces& rows, const QkScales& scales, float* scores, float* out) = 0;
  // logits: [n_tokens, n_expert] -> ids, weights: [n_tokens, n_used].
  virtual void Route(const RouterParams& router, const float* logits, int64_t n_tokens, int32_t* ids,
                     float* weights) = 0;
  // out: [n_tokens, n_embd] = sum over each token's experts of weight * down(SwiGLU(gate x, up x));
  // ids are model expert ids; experts the rank does not hold add nothing.
  virtual void MoeExperts(const LayerWeights& w, const ExpertShape& shape, const float* x, int64_t n_tokens,
                          const int32_t* ids, const float* weights, float* out) = 0;

  // Profiling: while on, each op's time is summed by name (the CUDA backend then runs
  // every step live and times its kernels with events). OpTimes waits for the device and
  // lists the sums since profiling was turned on.
  virtual void ProfileOps(bool on) = 0;
  virtual Expected<std::vector<OpTime>> OpTimes() = 0;

  // A sampling step's summary of one rank's logits: device [n], token vocab_begin + i.
  // The penalties of `params` for `history` are applied to them in place (a later
  // Download sees them penalised), then Summarize's result (engine/sampler.h) is returned:
  // only the summary leaves the device. Waits for the device.
  virtual Expected<SliceSummary> SummarizeLogits(const SamplingParams& params, float* logits, int64_t n,
                                                 int64_t vocab_begin, std::span<const int32_t> history) = 0;

  // Positions [0, n_pos) of sequence seq's K and V cache in every layer set to
  // deterministic pseudo-random values in [-1, 1]: a context of that depth without a
  // prefill (benchmarks).
  virtual void FillKvSynthetic(int64_t seq, int64_t n_pos) = 0;

  // One decode step of n_rows rows (one per sequence), their tokens and places already
  // uploaded to the buffers the ops read, the largest position max_pos: the ops `record`
  // issues. With may_replay (the collective's calls can be recorded too), a backend may
  // record the ops once per shape and replay the recording at later steps (CUDA graphs),
  // so `record` must issue the same ops at every step of that shape, and no Download.
  virtual Status RunStep(int64_t n_rows, int64_t max_pos, bool may_replay,
                         const std::function<Status()>& record) = 0;
  // Drops every recording RunStep made: the next step runs live again. For when the ops'
  // collective was replaced (a rebuilt group), whose recorded calls would reach the old one.
  virtual void ForgetRecordedSteps() = 0;
};

}  // namespace tandem
