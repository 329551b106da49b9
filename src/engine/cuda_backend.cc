#include "engine/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>

#include "common/log.h"
#include "common/progress.h"
#include "kernels/cuda/add.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/embed.h"
#include "kernels/cuda/head_norm_rope.h"
#include "kernels/cuda/kv_store.h"
#include "kernels/cuda/logit_summary.h"
#include "kernels/cuda/moe_experts.h"
#include "kernels/cuda/moe_router.h"
#include "kernels/cuda/quant_matvec.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/rope.h"

namespace tandem {
namespace {

constexpr uint64_t kAlign = 256;                    // bytes; every tensor starts on it
constexpr uint64_t kFreeMargin = uint64_t{256} << 20;  // left free for the CUDA runtime and cuBLAS-like users
constexpr int64_t kAttentionTokensPerLaunch = 8;    // attention scratch sized for 8 tokens at the longest split

uint64_t AlignUp(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// What a recorded decode step depends on besides its row count and the places it reads on
// the device: the attention's split count, set by the context length up to 32768
// positions (attention.cu: one split per 32 or more positions, at most
// kAttentionMaxSplits). A class is the power of two >= pos + 1, from 128 to 32768: nine
// recordings per row count cover any context.
int64_t StepContextClass(int64_t pos) {
  constexpr int64_t kLast = 128 * kAttentionMaxSplits;
  int64_t c = 128;
  while (c < pos + 1 && c < kLast) c *= 2;
  return c;
}

double MiB(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// Lays the weights out in one device buffer: measures (base null) or copies. Every matrix
// comes out contiguous (row_stride = row bytes); a strided slice is copied row by row.
class WeightPacker {
 public:
  WeightPacker(uint8_t* base, Progress* progress) : base_(base), progress_(progress) {}
  uint64_t bytes() const { return at_; }
  const Status& status() const { return status_; }

  WeightMatrix Matrix(const WeightMatrix& m) {
    WeightMatrix out = m;
    out.row_stride = m.row_bytes();
    out.data = Take(static_cast<uint64_t>(m.rows) * out.row_stride);
    Copy2D(out.data, out.row_stride, m.data, m.row_stride, out.row_stride, m.rows);
    return out;
  }

  ExpertMatrices Experts(const ExpertMatrices& e) {
    ExpertMatrices out = e;
    const uint64_t row_bytes = e.first.row_bytes();
    const uint64_t expert_bytes = static_cast<uint64_t>(e.first.rows) * row_bytes;
    out.first.row_stride = row_bytes;
    out.expert_stride = expert_bytes;
    out.first.data = Take(expert_bytes * static_cast<uint64_t>(e.n_expert));
    for (int64_t x = 0; x < e.n_expert; ++x) {
      const WeightMatrix src = e.expert(x);
      Copy2D(out.first.data + x * expert_bytes, row_bytes, src.data, src.row_stride, row_bytes, src.rows);
    }
    return out;
  }

  WeightVector Vector(const WeightVector& v) {
    if (v.data == nullptr) return v;
    const uint8_t* dst = Take(static_cast<uint64_t>(v.n) * sizeof(float));
    Copy2D(dst, 0, reinterpret_cast<const uint8_t*>(v.data), 0, static_cast<uint64_t>(v.n) * sizeof(float), 1);
    return WeightVector{reinterpret_cast<const float*>(dst), v.n};
  }

 private:
  const uint8_t* Take(uint64_t bytes) {
    const uint64_t at = at_;
    at_ += AlignUp(bytes);
    return base_ == nullptr ? nullptr : base_ + at;
  }

  void Copy2D(const uint8_t* dst, uint64_t dst_pitch, const uint8_t* src, uint64_t src_pitch, uint64_t width,
              int64_t rows) {
    if (base_ == nullptr || !status_.ok() || rows == 0) return;
    cudaError_t err;
    if (rows == 1 || (src_pitch == width && dst_pitch == width)) {
      err = cudaMemcpy(const_cast<uint8_t*>(dst), src, width * static_cast<uint64_t>(rows), cudaMemcpyHostToDevice);
    } else {
      err = cudaMemcpy2D(const_cast<uint8_t*>(dst), dst_pitch, src, src_pitch, width, static_cast<size_t>(rows),
                         cudaMemcpyHostToDevice);
    }
    status_ = CudaStatus(err, "upload of weights", __FILE__, __LINE__);
    if (progress_) progress_->Add(width * static_cast<uint64_t>(rows));
  }

  uint8_t* base_;
  Progress* progress_;
  uint64_t at_ = 0;
  Status status_;
};

ModelWeights PackAll(const ModelWeights& host, WeightPacker& p) {
  ModelWeights d;
  d.token_embd = p.Matrix(host.token_embd);
  for (const LayerWeights& l : host.layers) {
    LayerWeights o;
    o.attn_norm = p.Vector(l.attn_norm);
    o.wq = p.Matrix(l.wq);
    o.wk = p.Matrix(l.wk);
    o.wv = p.Matrix(l.wv);
    o.wo = p.Matrix(l.wo);
    o.q_norm = p.Vector(l.q_norm);
    o.k_norm = p.Vector(l.k_norm);
    o.ffn_norm = p.Vector(l.ffn_norm);
    o.router = p.Matrix(l.router);
    o.expert_bias = p.Vector(l.expert_bias);
    o.gate_exps = p.Experts(l.gate_exps);
    o.up_exps = p.Experts(l.up_exps);
    o.down_exps = p.Experts(l.down_exps);
    d.layers.push_back(o);
  }
  d.output_norm = p.Vector(host.output_norm);
  // Tied embeddings (the LM head is the embedding table itself) are uploaded once.
  const bool tied = host.output.data == host.token_embd.data && host.output.rows == host.token_embd.rows &&
                    host.output.row_stride == host.token_embd.row_stride;
  d.output = tied ? d.token_embd : p.Matrix(host.output);
  return d;
}

ExpertWeights ToExpertWeights(const ExpertMatrices& e) {
  return ExpertWeights{e.first.type, e.first.data, e.first.rows, e.first.cols, e.first.row_stride, e.expert_stride};
}

}  // namespace

Status CudaBackend::CheckDevice(int device) {
  int n_devices = 0;
  if (cudaError_t err = cudaGetDeviceCount(&n_devices); err != cudaSuccess || n_devices == 0) {
    return Status::Error("cuda backend: no CUDA device ({}): run on a machine with an NVIDIA GPU and driver, or "
                         "use --backend cpu",
                         err == cudaSuccess ? "0 devices" : cudaGetErrorString(err));
  }
  if (device < 0 || device >= n_devices) {
    return Status::Error("cuda backend: device {} does not exist ({} devices)", device, n_devices);
  }
  return Status::Ok();
}

Expected<std::unique_ptr<CudaBackend>> CudaBackend::Create(const CudaBackendOptions& options) {
  TANDEM_TRY(CheckDevice(options.device));
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->device_ = options.device;
  b->activations_ = options.activations;
  TANDEM_CUDA_TRY(cudaSetDevice(options.device));
  cudaDeviceProp prop{};
  TANDEM_CUDA_TRY(cudaGetDeviceProperties(&prop, options.device));
  b->device_name_ = prop.name;
  TANDEM_CUDA_TRY(cudaStreamCreateWithFlags(&b->stream_, cudaStreamNonBlocking));
  for (auto& side : b->side_streams_) {
    TANDEM_ASSIGN_OR_RETURN(side, SideStream::Create());
  }
  size_t free = 0, total = 0;
  TANDEM_CUDA_TRY(cudaMemGetInfo(&free, &total));
  Log(Subsystem::kEngine)
      .info("cuda backend: device {} ({}, sm_{}{}, {} SMs), {:.0f} MiB free of {:.0f} MiB", options.device,
            b->device_name_, prop.major, prop.minor, prop.multiProcessorCount, MiB(free), MiB(total));
  return b;
}

CudaBackend::~CudaBackend() {
  cudaSetDevice(device_);
  if (stream_ != nullptr) {
    ForgetRecordedSteps();  // waits for the stream
    cudaStreamDestroy(stream_);
  }
  for (void* p : allocations_) cudaFree(p);
}

Expected<void*> CudaBackend::DeviceAlloc(uint64_t bytes, std::string_view what) {
  TANDEM_CUDA_TRY(cudaSetDevice(device_));
  size_t free = 0, total = 0;
  TANDEM_CUDA_TRY(cudaMemGetInfo(&free, &total));
  if (bytes + kFreeMargin > free) {
    return Status::Error("cuda backend: {} needs {:.1f} MiB but device {} ({}) has {:.1f} MiB free of {:.1f} MiB "
                         "(weights {:.1f}, KV {:.1f}, workspace {:.1f} MiB placed so far; {:.0f} MiB kept free): "
                         "use a shorter --ctx, more ranks or a smaller quant",
                         what, MiB(bytes), device_, device_name_, MiB(free), MiB(total), MiB(weight_bytes_),
                         MiB(kv_bytes_), MiB(workspace_bytes_), MiB(kFreeMargin));
  }
  void* p = nullptr;
  if (cudaError_t err = cudaMalloc(&p, std::max<uint64_t>(bytes, 1)); err != cudaSuccess) {
    return Status::Error("cuda backend: cudaMalloc of {:.1f} MiB for {} failed: {}", MiB(bytes), what,
                         cudaGetErrorString(err));
  }
  allocations_.push_back(p);
  return p;
}

Expected<void*> CudaBackend::Allocate(uint64_t bytes) {
  TANDEM_ASSIGN_OR_RETURN(void* p, DeviceAlloc(bytes, "the engine workspace"));
  workspace_bytes_ += bytes;
  return p;
}

void CudaBackend::LogMemoryPlan(std::string_view stage) const {
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) return;
  Log(Subsystem::kEngine)
      .info("cuda memory after {}: weights {:.1f} MiB, KV cache {:.1f} MiB, workspace {:.1f} MiB; device {:.0f} MiB "
            "free of {:.0f}",
            stage, MiB(weight_bytes_), MiB(kv_bytes_), MiB(workspace_bytes_ + scratch_bytes_), MiB(free), MiB(total));
}

Expected<ModelWeights> CudaBackend::PlaceWeights(const ModelWeights& host) {
  WeightPacker measure(nullptr, nullptr);
  PackAll(host, measure);
  const uint64_t bytes = measure.bytes();
  Log(Subsystem::kEngine)
      .info("cuda backend: uploading {} layers of weights, {:.1f} MiB, each matrix packed contiguous (column slices "
            "repacked row by row)",
            host.layers.size(), MiB(bytes));
  TANDEM_ASSIGN_OR_RETURN(void* base, DeviceAlloc(bytes, "the weights"));
  Progress progress("upload weights", bytes);
  WeightPacker upload(static_cast<uint8_t*>(base), &progress);
  ModelWeights placed = PackAll(host, upload);
  progress.Finish();
  if (!upload.status().ok()) return upload.status().WithContext("cuda backend: placing the weights");
  weight_bytes_ += bytes;
  LogMemoryPlan("the weights");
  return placed;
}

Status CudaBackend::CreateKvCache(const KvShape& s) {
  if (s.n_ctx <= 0) return Status::Error("context length {} must be positive", s.n_ctx);
  if (s.n_seq <= 0) return Status::Error("{} sequences: need at least 1", s.n_seq);
  kv_ = s;
  const uint64_t elem = s.storage == KvStorage::kF32 ? 4 : 2;
  kv_seq_bytes_ = static_cast<uint64_t>(s.n_ctx * s.n_kv_head * s.head_dim) * elem;
  kv_layer_bytes_ = kv_seq_bytes_ * static_cast<uint64_t>(s.n_seq);
  const uint64_t bytes = kv_layer_bytes_ * static_cast<uint64_t>(s.n_layer);
  const std::string shape = fmt::format("{} sequences x {} positions", s.n_seq, s.n_ctx);
  TANDEM_ASSIGN_OR_RETURN(k_cache_, DeviceAlloc(bytes, fmt::format("the K cache ({})", shape)));
  TANDEM_ASSIGN_OR_RETURN(v_cache_, DeviceAlloc(bytes, fmt::format("the V cache ({})", shape)));
  kv_bytes_ = 2 * bytes;
  LogMemoryPlan("the KV cache");
  return Status::Ok();
}

Expected<float*> CudaBackend::Grow(Scratch& s, int64_t floats, std::string_view what) {
  if (floats <= s.floats) return s.data;
  TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));  // earlier ops may still read the old buffer
  if (s.data != nullptr) {
    allocations_.erase(std::find(allocations_.begin(), allocations_.end(), static_cast<void*>(s.data)));
    cudaFree(s.data);
    scratch_bytes_ -= static_cast<uint64_t>(s.floats) * sizeof(float);
    s = Scratch{};
  }
  TANDEM_ASSIGN_OR_RETURN(void* p, DeviceAlloc(static_cast<uint64_t>(floats) * sizeof(float), what));
  s = Scratch{static_cast<float*>(p), floats};
  scratch_bytes_ += static_cast<uint64_t>(floats) * sizeof(float);
  Log(Subsystem::kEngine).debug("cuda backend: {} scratch {:.1f} MiB", what, MiB(floats * sizeof(float)));
  return s.data;
}

bool CudaBackend::Check(const Status& status, std::string_view op) {
  if (status.ok()) return true;
  if (error_.ok()) error_ = status.WithContext(fmt::format("cuda backend {}", op));
  return false;
}

bool CudaBackend::CheckCuda(cudaError_t error, std::string_view op) {
  if (error == cudaSuccess) return true;
  return Check(Status::Error("{} ({})", cudaGetErrorName(error), cudaGetErrorString(error)), op);
}

void CudaBackend::Upload(const void* host, void* dst, uint64_t bytes) {
  // Pageable host memory is staged before the call returns: the caller may reuse it.
  CheckCuda(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, stream_), "upload");
}

Status CudaBackend::Download(const void* src, void* host, uint64_t bytes) {
  if (!error_.ok()) return error_;
  const cudaError_t copy = cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, stream_);
  const cudaError_t sync = cudaStreamSynchronize(stream_);
  const cudaError_t err = copy != cudaSuccess ? copy : sync;
  if (err != cudaSuccess) {
    error_ = Status::Error("cuda backend: download of {} bytes (after the queued ops) failed: {} ({})", bytes,
                           cudaGetErrorName(err), cudaGetErrorString(err));
  }
  return error_;
}

void CudaBackend::Embed(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* x) {
  const auto timed = Timed("embed");
  CheckCuda(EmbedRows(table.type, table.data, table.row_stride, table.cols, ids, n_tokens, x, stream_), "embed");
}

void CudaBackend::RmsNorm(const float* x, const WeightVector& w, int64_t rows, int64_t n, float eps, float* y) {
  const auto timed = Timed("rms_norm");
  CheckCuda(RmsNormRows(x, w.data, rows, n, eps, y, stream_), "rms norm");
}

void CudaBackend::AddRmsNorm(float* x, const float* add, const WeightVector& w, int64_t rows, int64_t n, float eps,
                             float* y) {
  const auto timed = Timed("add_rms_norm");
  CheckCuda(AddRmsNormRows(x, add, w.data, rows, n, eps, y, stream_), "add and rms norm");
}

void CudaBackend::SumSquares(const float* x, int64_t rows, int64_t n, float* sums) {
  const auto timed = Timed("sum_squares");
  CheckCuda(SumSquaresRows(x, rows, n, sums, stream_), "sum of squares");
}

bool CudaBackend::MatMulOn(cudaStream_t stream, const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) {
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kQuantMatMulMaxTokens) {
    const int64_t m = std::min(kQuantMatMulMaxTokens, n_tokens - t0);
    if (!Check(QuantMatMul(w.type, w.data, w.rows, w.cols, w.row_stride, x + t0 * w.cols, m, y + t0 * w.rows,
                           stream, activations_),
               "matmul")) {
      return false;
    }
  }
  return true;
}

void CudaBackend::MatMul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) {
  const auto timed = Timed("matmul");
  MatMulOn(stream_, w, x, n_tokens, y);
}

void CudaBackend::MatMuls(std::span<const MatMulJob> jobs, int64_t n_tokens) {
  const int64_t branches = std::min<int64_t>(static_cast<int64_t>(jobs.size()), kSideStreams + 1);
  if (branches <= 1 || n_tokens > kQuantMatMulMaxTokens) {
    for (const MatMulJob& j : jobs) MatMul(*j.w, j.x, n_tokens, j.y);
    return;
  }
  const auto timed = Timed("matmul");
  for (int64_t i = 0; i < static_cast<int64_t>(jobs.size()); ++i) {
    const int64_t branch = i % branches;
    SideStream* side = branch == 0 ? nullptr : side_streams_[branch - 1].get();
    if (i == branch && side != nullptr && !Check(side->Fork(stream_), "fork of products")) return;
    if (!MatMulOn(side != nullptr ? side->stream() : stream_, *jobs[i].w, jobs[i].x, n_tokens, jobs[i].y)) return;
  }
  for (int64_t branch = 1; branch < branches; ++branch) {
    if (!Check(side_streams_[branch - 1]->Join(stream_), "join of products")) return;
  }
}

void CudaBackend::Add(float* x, const float* y, int64_t n) {
  const auto timed = Timed("add");
  CheckCuda(AddInPlace(x, y, n, stream_), "add");
}

void CudaBackend::Rope(const RopeParams& params, float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                       int64_t pos0) {
  const auto timed = Timed("rope");
  CheckCuda(RopeNeox(params, x, n_tokens, n_heads, head_dim, pos0, stream_), "rope");
}

void CudaBackend::StoreKv(int layer, int64_t seq, int64_t pos0, int64_t n_tokens, const float* k, const float* v) {
  const auto timed = Timed("store_kv");
  if (pos0 + n_tokens > kv_.n_ctx || layer < 0 || layer >= kv_.n_layer || seq < 0 || seq >= kv_.n_seq) {
    Check(Status::Error("positions [{}, {}) of sequence {} in layer {} outside the cache's {} sequences x {} "
                        "positions x {} layers",
                        pos0, pos0 + n_tokens, seq, layer, kv_.n_seq, kv_.n_ctx, kv_.n_layer),
          "store kv");
    return;
  }
  const bool f16 = kv_.storage == KvStorage::kF16;
  const int64_t kv_dim = kv_.n_kv_head * kv_.head_dim;
  CheckCuda(StoreKvRows(KLayer(layer, seq), f16, kv_dim, pos0, k, n_tokens, stream_), "store k");
  CheckCuda(StoreKvRows(VLayer(layer, seq), f16, kv_dim, pos0, v, n_tokens, stream_), "store v");
}

// The places themselves are device data; the engine keeps them inside the cache
// (ctx_bound <= n_ctx, slots < n_seq).
void CudaBackend::HeadNormRopeStore(int layer, const RopeParams& rope, const QkNorm& norm, float* q, float* k,
                                    const float* v, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
                                    const RowPlaces& rows) {
  const auto timed = Timed("head_norm_rope_store");
  if (rows.ctx_bound > kv_.n_ctx || layer < 0 || layer >= kv_.n_layer || n_kv_head != kv_.n_kv_head ||
      head_dim != kv_.head_dim) {
    Check(Status::Error("positions below {} of layer {}, {} KV heads x {}: outside the cache's {} positions x {} "
                        "layers of {} heads x {}",
                        rows.ctx_bound, layer, n_kv_head, head_dim, kv_.n_ctx, kv_.n_layer, kv_.n_kv_head,
                        kv_.head_dim),
          "head norm, rope and KV store");
    return;
  }
  HeadNormRopeArgs a;
  a.q = q;
  a.k = k;
  a.v = v;
  a.q_norm = norm.q.data;
  a.k_norm = norm.k.data;
  a.eps = norm.scales.eps;
  a.whole = norm.whole;
  a.sums = norm.scales.sums;
  a.q_total = norm.scales.q_total;
  a.k_total = norm.scales.k_total;
  a.n_rows = rows.n_rows;
  a.n_head = n_head;
  a.n_kv_head = n_kv_head;
  a.head_dim = head_dim;
  a.rope = rope;
  a.seq = rows.seq;
  a.pos = rows.pos;
  a.k_cache = KLayer(layer);
  a.v_cache = VLayer(layer);
  a.seq_stride = KvSeqStride();
  a.f16 = kv_.storage == KvStorage::kF16;
  CheckCuda(tandem::HeadNormRopeStore(a, stream_), "head norm, rope and KV store");
}

void CudaBackend::FillKvSynthetic(int64_t seq, int64_t n_pos) {
  if (seq < 0 || seq >= kv_.n_seq) {
    Check(Status::Error("sequence {} of {}", seq, kv_.n_seq), "synthetic context");
    return;
  }
  const bool f16 = kv_.storage == KvStorage::kF16;
  const int64_t n = std::min(n_pos, kv_.n_ctx) * kv_.n_kv_head * kv_.head_dim;  // values per layer
  for (int64_t layer = 0; layer < kv_.n_layer; ++layer) {
    const auto seed = static_cast<uint32_t>(2 * (layer * kv_.n_seq + seq));
    if (!CheckCuda(FillKvRandom(KLayer(layer, seq), f16, n, seed, stream_), "synthetic K")) return;
    if (!CheckCuda(FillKvRandom(VLayer(layer, seq), f16, n, seed + 1, stream_), "synthetic V")) return;
  }
}

Expected<AttentionArgs> CudaBackend::AttentionOf(int layer, const float* q, int64_t n_head, const RowPlaces& rows) {
  const int64_t floats = AttentionScratchFloats(n_head, kv_.head_dim, kAttentionTokensPerLaunch);
  TANDEM_ASSIGN_OR_RETURN(float* scratch, Grow(attention_scratch_, floats, "attention partials"));
  AttentionArgs a;
  a.q = q;
  a.n_rows = rows.n_rows;
  a.n_head = n_head;
  a.n_kv_head = kv_.n_kv_head;
  a.head_dim = kv_.head_dim;
  a.seq = rows.seq;
  a.pos = rows.pos;
  // A recording serves every step of its context class: split as for the longest.
  a.ctx_bound = recording_class_ > 0 ? recording_class_ : rows.ctx_bound;
  a.k = KLayer(layer);
  a.v = VLayer(layer);
  a.seq_stride = KvSeqStride();
  a.f16 = kv_.storage == KvStorage::kF16;
  a.scratch = scratch;
  a.scratch_floats = floats;
  a.score_stride = kv_.n_ctx;
  return a;
}

void CudaBackend::RunAttention(cudaError_t (*kernel)(const AttentionArgs&, cudaStream_t), const AttentionArgs& a,
                               std::string_view what) {
  if (cudaError_t err = kernel(a, stream_); err != cudaSuccess) {
    Check(Status::Error("{} q heads / {} KV heads x {}: {}", a.n_head, kv_.n_kv_head, kv_.head_dim,
                        cudaGetErrorString(err)),
          what);
  }
}

void CudaBackend::Attention(int layer, const float* q, int64_t n_head, const RowPlaces& rows, float* out) {
  const auto timed = Timed("attention");
  auto a = AttentionOf(layer, q, n_head, rows);
  if (!Check(a.status(), "attention")) return;
  a->out = out;
  RunAttention(AttentionCausal, *a, "attention");
}

void CudaBackend::AttentionScores(int layer, const float* q, int64_t n_head, const RowPlaces& rows, float* scores) {
  const auto timed = Timed("attention_scores");
  auto a = AttentionOf(layer, q, n_head, rows);
  if (!Check(a.status(), "attention scores")) return;
  a->scores = scores;
  RunAttention(tandem::AttentionScores, *a, "attention scores");
}

void CudaBackend::AttentionFromScores(int layer, const float* q, const float* k, int64_t n_head,
                                      const RowPlaces& rows, const QkScales& scales, float* scores, float* out) {
  const auto timed = Timed("attention_from_scores");
  auto a = AttentionOf(layer, q, n_head, rows);
  if (!Check(a.status(), "attention from scores")) return;
  a->scores = scores;
  a->k_new = k;
  a->sums = scales.sums;
  a->q_total = scales.q_total;
  a->k_total = scales.k_total;
  a->eps = scales.eps;
  a->out = out;
  RunAttention(tandem::AttentionFromScores, *a, "attention from scores");
}

void CudaBackend::Route(const RouterParams& r, const float* logits, int64_t n_tokens, int32_t* ids, float* weights) {
  const auto timed = Timed("route");
  RouteArgs a;
  a.logits = logits;
  a.n_tokens = n_tokens;
  a.n_expert = r.n_expert;
  a.k = r.n_used;
  a.sigmoid = r.sigmoid;
  a.norm_topk = r.norm_topk;
  a.bias = r.bias;
  a.weights_scale = r.weights_scale;
  a.ids = ids;
  a.weights = weights;
  if (cudaError_t err = RouteTopK(a, stream_); err != cudaSuccess) {
    Check(Status::Error("top {} of {} experts: {}", r.n_used, r.n_expert, cudaGetErrorString(err)), "route");
  }
}

void CudaBackend::MoeExperts(const LayerWeights& w, const ExpertShape& s, const float* x, int64_t n_tokens,
                             const int32_t* ids, const float* weights, float* out) {
  const auto timed = Timed("moe_experts");
  const int64_t k = s.n_used;
  auto scratch = Grow(moe_scratch_, MoeScratchFloats(k, s.n_ff, s.n_embd), "MoE intermediates");
  if (!Check(scratch.status(), "moe experts")) return;
  MoeExpertsArgs a;
  a.gate = ToExpertWeights(w.gate_exps);
  a.up = ToExpertWeights(w.up_exps);
  a.down = ToExpertWeights(w.down_exps);
  a.expert_begin = s.expert_begin;
  a.n_expert = s.n_expert;
  a.k = k;
  a.gate_buf = *scratch;
  a.up_buf = a.gate_buf + kMoeMaxTokens * k * s.n_ff;
  a.down_buf = a.up_buf + kMoeMaxTokens * k * s.n_ff;
  a.rounding = activations_;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kMoeMaxTokens) {
    a.n_tokens = std::min(kMoeMaxTokens, n_tokens - t0);
    a.x = x + t0 * s.n_embd;
    a.ids = ids + t0 * k;
    a.weights = weights + t0 * k;
    a.out = out + t0 * s.n_embd;
    if (!Check(MoeExpertsForward(a, stream_), "moe experts")) return;
  }
}

Expected<SliceSummary> CudaBackend::SummarizeLogits(const SamplingParams& p, float* logits, int64_t n,
                                                    int64_t vocab_begin, std::span<const int32_t> history) {
  const auto timed = Timed("summarize_logits");
  if (n < 1) return Status::Error("cuda backend: no logits to sample from");
  const int64_t k = std::min(CandidatesPerSlice(p), n);
  if (k > kTopKeysMaxK) {  // a top-k above what the device rounds take: the whole slice on the host
    std::vector<float> host(static_cast<size_t>(n));
    TANDEM_TRY(Download(logits, host.data(), host.size() * sizeof(float)));
    SliceSummary summary = PenaliseAndSummarize(p, host, vocab_begin, history);
    Upload(host.data(), logits, host.size() * sizeof(float));
    return summary;
  }
  const std::vector<int32_t> ids = PenalisedTokens(p, history);
  const int64_t chunks = TopKeyChunks(n);
  // Two rounds' keys (u64), the first round's stats (f64 pairs), the ids: in floats.
  const int64_t floats = 4 * chunks * k + 4 * chunks + static_cast<int64_t>(ids.size());
  TANDEM_ASSIGN_OR_RETURN(float* base, Grow(summary_scratch_, floats, "sampling candidates"));
  auto* keys = reinterpret_cast<uint64_t*>(base);
  auto* keys_next = keys + chunks * k;
  auto* stats = reinterpret_cast<double*>(keys_next + chunks * k);
  auto* dev_ids = reinterpret_cast<int32_t*>(stats + 2 * chunks);
  if (!ids.empty()) {
    Upload(ids.data(), dev_ids, ids.size() * sizeof(int32_t));
    CheckCuda(PenalizeLogits(logits, n, vocab_begin, dev_ids, static_cast<int>(ids.size()), p.repetition_penalty,
                             p.presence_penalty, stream_),
              "penalties");
  }
  const int top = static_cast<int>(k);
  CheckCuda(TopKeysOfLogits(logits, n, vocab_begin, top, p.temperature, keys, stats, stream_), "best candidates");
  for (int64_t count = chunks * k; count > k; count = TopKeyChunks(count) * k) {
    CheckCuda(TopKeysOfKeys(keys, count, top, keys_next, stream_), "best candidates");
    std::swap(keys, keys_next);
  }
  std::vector<uint64_t> best(static_cast<size_t>(k));
  TANDEM_TRY(Download(keys, best.data(), best.size() * sizeof(uint64_t)));
  SliceSummary s;
  s.complete = k == n;
  for (uint64_t key : best) s.candidates.push_back({TopKeyLogit(key), TopKeyId(key)});
  s.max_logit = s.candidates[0].logit;
  if (p.temperature > 0.0f) {
    std::vector<double> chunk_stats(static_cast<size_t>(2 * chunks));
    TANDEM_TRY(Download(stats, chunk_stats.data(), chunk_stats.size() * sizeof(double)));
    double sum = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sum += chunk_stats[2 * c + 1] * std::exp((chunk_stats[2 * c] - s.max_logit) / p.temperature);
    }
    s.sum_exp = static_cast<float>(sum);
  }
  return s;
}

Status CudaBackend::RunStep(int64_t n_rows, int64_t max_pos, bool may_replay, const std::function<Status()>& record) {
  if (!may_replay || !stepped_live_ || timer_.enabled()) {
    const Status st = record();
    stepped_live_ = st.ok() && error_.ok();
    return st;
  }
  const int64_t context_class = StepContextClass(max_pos);
  const std::pair<int64_t, int64_t> shape{n_rows, context_class};
  auto it = step_graphs_.find(shape);
  if (it == step_graphs_.end()) {
    TANDEM_ASSIGN_OR_RETURN(cudaGraphExec_t exec, RecordStep(context_class, record));
    it = step_graphs_.emplace(shape, exec).first;
  }
  CheckCuda(cudaGraphLaunch(it->second, stream_), "replay of a decode step");
  return error_;
}

void CudaBackend::UseOnThisThread() { CheckCuda(cudaSetDevice(device_), "making the backend's GPU current"); }

void CudaBackend::ForgetRecordedSteps() {
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);  // no replay still running
  for (auto& [shape, exec] : step_graphs_) cudaGraphExecDestroy(exec);
  step_graphs_.clear();
  stepped_live_ = false;
}

Expected<cudaGraphExec_t> CudaBackend::RecordStep(int64_t context_class, const std::function<Status()>& record) {
  TANDEM_CUDA_TRY(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  recording_class_ = context_class;
  const Status recorded = record();
  recording_class_ = 0;
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
  if (!recorded.ok() || !error_.ok() || ended != cudaSuccess) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    if (!recorded.ok()) return recorded.WithContext("cuda backend: recording a decode step");
    if (!error_.ok()) return error_;
    return Status::Error("cuda backend: recording a decode step failed: {} ({})", cudaGetErrorName(ended),
                         cudaGetErrorString(ended));
  }
  size_t nodes = 0;
  cudaGraphGetNodes(graph, nullptr, &nodes);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (made != cudaSuccess) {
    return Status::Error("cuda backend: instantiating a recorded decode step ({} kernels) failed: {}", nodes,
                         cudaGetErrorString(made));
  }
  Log(Subsystem::kEngine)
      .debug("cuda backend: recorded the decode step for contexts up to {} positions: {} kernels in one graph",
             context_class, nodes);
  return exec;
}

}  // namespace tandem
