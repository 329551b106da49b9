// Split-context attention (see attention.h): AttendChunkKernel stages K and V tiles in
// shared memory and writes, for each (token,
// query head, split), the chunk's running max m, sum l = sum exp(s - m) and acc =
// sum exp(s - m) v; MergeSplitsKernel joins the splits as sum_s e^(m_s - M) acc_s /
// sum_s e^(m_s - M) l_s. The two halves of AttentionScores / AttentionFromScores are the
// same kernel in another Pass: the first stages only K and writes the raw scores, the
// second stages only V and reads them back.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/rms_norm_math.cuh"
#include "kernels/cuda/warp_reduce.cuh"

namespace tandem {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMinChunk = 32;                           // fewest positions worth a split
constexpr int kSharedLimit = 48 * 1024;                 // bytes a block may take without opting in

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__half x) { return __half2float(x); }
__device__ __forceinline__ void FromFloat(float x, float* out) { *out = x; }
__device__ __forceinline__ void FromFloat(float x, __half* out) { *out = __float2half_rn(x); }

// What a launch of AttendChunkKernel does.
enum class Pass {
  kWhole,       // AttentionCausal: scores, softmax and V in one pass
  kScores,      // AttentionScores: raw scores of the cached positions into global memory
  kFromScores,  // AttentionFromScores: the new key, then softmax and V of the scaled scores
};

// q[0..n) . k[0..n) for the n = 16 / sizeof(KV) elements of one 16-byte word of k, plus acc.
__device__ __forceinline__ float Dot16(const float* q, const float* k, float acc) {
  const float4 kv = *reinterpret_cast<const float4*>(k);
  const float4 qv = *reinterpret_cast<const float4*>(q);
  return fmaf(qv.w, kv.w, fmaf(qv.z, kv.z, fmaf(qv.y, kv.y, fmaf(qv.x, kv.x, acc))));
}
__device__ __forceinline__ float Dot16(const float* q, const __half* k, float acc) {
  const uint4 word = *reinterpret_cast<const uint4*>(k);
  const uint32_t parts[4] = {word.x, word.y, word.z, word.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 kv = __half22float2(*reinterpret_cast<const __half2*>(&parts[i]));
    acc = fmaf(q[2 * i], kv.x, acc);
    acc = fmaf(q[2 * i + 1], kv.y, acc);
  }
  return acc;
}

// Elements between staged K (or V) rows in shared memory: a row plus 16 bytes, so the 16-byte
// reads of 8 consecutive rows fall in distinct banks.
template <typename KV>
__host__ __device__ constexpr int StagedPitch(int head_dim) {
  return head_dim + 16 / static_cast<int>(sizeof(KV));
}

// Tiles a block of the pass stages: K and V, or only one of them.
constexpr int StagedTiles(Pass pass) { return pass == Pass::kWhole ? 2 : 1; }

// Shared memory of a block staging `tile` positions (AttendChunkKernel's layout), bytes.
// kScores keeps only its K tile and q: half the bytes, twice the blocks per SM.
template <typename KV, Pass kPass>
size_t ChunkSharedBytes(int tile, int group, int head_dim) {
  const size_t g = static_cast<size_t>(group), hd = static_cast<size_t>(head_dim);
  const size_t softmax_floats = kPass == Pass::kScores ? 0 : g * hd + g * static_cast<size_t>(tile) + 3 * g;
  return StagedTiles(kPass) * static_cast<size_t>(tile) * StagedPitch<KV>(head_dim) * sizeof(KV) +
         sizeof(float) * (g * hd + softmax_floats);
}

struct ChunkArgs {
  const float* q;
  int n_head, n_kv_head, head_dim, group;  // group = n_head / n_kv_head
  int tile;                                // positions staged per round
  const int32_t* seq;                      // [rows of the launch]
  const int32_t* pos;                      // [rows of the launch]
  int64_t seq_stride;                      // elements
  int splits;
  float scale;                             // 1 / sqrt(head_dim)
  float* part_acc;                         // [n_tokens, n_head, splits, head_dim]
  float* part_ml;                          // [n_tokens, n_head, splits, 2]
  // The two halves (AttentionArgs' fields of the same names, for the launch's rows):
  float* scores;                           // [n_tokens, n_head, score_stride]
  int64_t score_stride;
  const float* k_new;                      // [n_tokens, n_kv_head, head_dim]
  const float* q_sums;                     // [n_tokens]
  const float* k_sums;                     // [n_tokens]
  int64_t q_total, k_total;
  float eps;
};

// Rows [0, n) of K and of V (row p at k / v + p * row_stride elements, hd of them) into
// ks / vs (row p at + p * pitch), 16 bytes per load where the rows allow it; only K or
// only V as kStageK / kStageV say. Each thread issues kBatch loads of K and of V before
// it stores any, so a tile costs about one round trip to memory instead of one per load.
template <typename KV, bool kStageK, bool kStageV>
__device__ __forceinline__ void StageRows(const KV* __restrict__ k, const KV* __restrict__ v, int64_t row_stride,
                                          int n, int hd, int pitch, KV* ks, KV* vs) {
  constexpr int kPer16 = 16 / sizeof(KV);
  constexpr int kBatch = 4;
  if (hd % kPer16 == 0 && row_stride % kPer16 == 0) {
    const int chunks = hd / kPer16, total = n * chunks;
    for (int base = threadIdx.x; base < total; base += kThreads * kBatch) {
      uint4 kw[kBatch], vw[kBatch];
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int i = base + b * kThreads;
        if (i < total) {
          const int p = i / chunks, c = i - p * chunks;
          if (kStageK) kw[b] = __ldg(reinterpret_cast<const uint4*>(k + p * row_stride) + c);
          if (kStageV) vw[b] = __ldg(reinterpret_cast<const uint4*>(v + p * row_stride) + c);
        }
      }
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int i = base + b * kThreads;
        if (i < total) {
          const int p = i / chunks, c = i - p * chunks;
          if (kStageK) *reinterpret_cast<uint4*>(ks + p * pitch + c * kPer16) = kw[b];
          if (kStageV) *reinterpret_cast<uint4*>(vs + p * pitch + c * kPer16) = vw[b];
        }
      }
    }
  } else {
    for (int i = threadIdx.x; i < n * hd; i += kThreads) {
      const int p = i / hd, d = i - p * hd;
      if (kStageK) ks[p * pitch + d] = k[p * row_stride + d];
      if (kStageV) vs[p * pitch + d] = v[p * row_stride + d];
    }
  }
}

// Two consecutive values of a staged V row as floats.
__device__ __forceinline__ float2 LoadPair(const float* v) { return *reinterpret_cast<const float2*>(v); }
__device__ __forceinline__ float2 LoadPair(const __half* v) {
  return __half22float2(*reinterpret_cast<const __half2*>(v));
}

constexpr int kHeadsPerPass = 4;  // query heads a thread carries through one pass over V

// acc[h][d] = acc[h][d] * corr[h] + sum_p w[h][p] v[p][d] for every (head, dim) of the
// group, w = scores [G][tile_max], V staged [n][pitch]. A thread takes a pair of
// dimensions and up to kHeadsPerPass heads at once, so each V value it loads from shared
// memory serves all those heads (a thread per (head, dim) read every V value once per
// head: shared-memory bound at long contexts). Odd head_dim: a thread per (head, dim).
template <typename KV>
__device__ __forceinline__ void WeightedV(const KV* vs, int pitch, int n, const float* scores, int tile_max,
                                          const float* corr, int G, int hd, float* acc) {
  if (hd % 2 != 0) {
    for (int i = threadIdx.x; i < G * hd; i += kThreads) {
      const int h = i / hd, d = i - h * hd;
      float x = acc[i] * corr[h];
      const float* w = scores + h * tile_max;
      for (int p = 0; p < n; ++p) x = fmaf(w[p], ToFloat(vs[p * pitch + d]), x);
      acc[i] = x;
    }
    return;
  }
  const int pairs = hd / 2;               // <= kThreads: head_dim <= kAttentionMaxHeadDim
  const int head_sets = kThreads / pairs;  // threads [set * pairs, + pairs) share their heads
  const int set = threadIdx.x / pairs, d = 2 * (threadIdx.x - set * pairs);
  if (set >= head_sets) return;
  for (int h0 = set; h0 < G; h0 += kHeadsPerPass * head_sets) {
    float2 x[kHeadsPerPass];
    const float* w[kHeadsPerPass];
#pragma unroll
    for (int j = 0; j < kHeadsPerPass; ++j) {
      const int h = min(h0 + j * head_sets, G - 1);  // past G: a copy of the last head, not stored
      x[j] = make_float2(acc[h * hd + d] * corr[h], acc[h * hd + d + 1] * corr[h]);
      w[j] = scores + h * tile_max;
    }
#pragma unroll 4
    for (int p = 0; p < n; ++p) {
      const float2 v = LoadPair(vs + p * pitch + d);
#pragma unroll
      for (int j = 0; j < kHeadsPerPass; ++j) {
        x[j].x = fmaf(w[j][p], v.x, x[j].x);
        x[j].y = fmaf(w[j][p], v.y, x[j].y);
      }
    }
#pragma unroll
    for (int j = 0; j < kHeadsPerPass; ++j) {
      const int h = h0 + j * head_sets;
      if (h < G) {
        acc[h * hd + d] = x[j].x;
        acc[h * hd + d + 1] = x[j].y;
      }
    }
  }
}

// q_row . k_row over hd values, k_row in shared memory.
template <typename KV>
__device__ __forceinline__ float DotStaged(const float* q_row, const KV* k_row, int hd) {
  constexpr int kPer16 = 16 / sizeof(KV);
  float dot = 0.0f;
  if (hd % kPer16 == 0) {
    for (int d = 0; d < hd; d += kPer16) dot = Dot16(q_row + d, k_row + d, dot);
  } else {
    for (int d = 0; d < hd; ++d) dot = fmaf(q_row[d], ToFloat(k_row[d]), dot);
  }
  return dot;
}

// kFromScores, in the block whose chunk holds row t's own position: the row's key for KV
// head g scaled, rounded to the cache's type, stored, and scored against the group's
// query heads into the global scores, all in the unscaled units of kScores'.
template <typename KV>
__device__ void StoreNewKey(const ChunkArgs& a, int t, int g, const float* qs, KV* k_cache_row, KV* staged,
                            float* scores_at_pos) {
  const int hd = a.head_dim;
  const float k_scale = cuda_detail::RmsScale(static_cast<double>(a.k_sums[t]), a.k_total, a.eps);
  const float* k_row = a.k_new + (static_cast<int64_t>(t) * a.n_kv_head + g) * hd;
  for (int d = threadIdx.x; d < hd; d += kThreads) {
    FromFloat(cuda_detail::RmsApply(k_row[d], k_scale, nullptr, d), &staged[d]);
    k_cache_row[d] = staged[d];
  }
  __syncthreads();
  for (int h = threadIdx.x; h < a.group; h += kThreads) {
    scores_at_pos[static_cast<int64_t>(h) * a.score_stride] = DotStaged(qs + h * hd, staged, hd);
  }
  __syncthreads();  // the block reads these scores back with the others
}

// Block (split s, KV head g, row t). Each round stages `tile` positions of K and V in
// shared memory, scores them for every query head of the GQA group (a thread per (head,
// position)), updates the online softmax (a warp per head) and adds the weighted V (a
// thread per (head, dim)). Shared: K and V tiles [tile, pitch], q of the group [group,
// head_dim], acc [group, head_dim], scores [group, tile], per head m, l and the round's
// correction. kScores stops after the scores (its chunk ends before the row's own
// position, whose key is not final yet) and has only the K tile and q; kFromScores reads
// the scores instead of K and has no K tile.
template <typename KV, Pass kPass>
__global__ void __launch_bounds__(kThreads) AttendChunkKernel(ChunkArgs a, KV* __restrict__ k,
                                                             const KV* __restrict__ v) {
  cuda_detail::StartAfterPreviousKernel();
  extern __shared__ __align__(16) uint8_t shared_bytes[];
  const int s = blockIdx.x, g = blockIdx.y, t = blockIdx.z;
  const int hd = a.head_dim, G = a.group, tile_max = a.tile;
  const int pitch = StagedPitch<KV>(hd);
  // The tiles a pass stages, then q, then (but in kScores) the softmax's state.
  KV* ks = reinterpret_cast<KV*>(shared_bytes);                               // [tile, pitch]
  KV* vs = kPass == Pass::kWhole ? ks + tile_max * pitch : ks;                // [tile, pitch]
  float* qs = reinterpret_cast<float*>(ks + StagedTiles(kPass) * tile_max * pitch);  // [G * hd]
  float* acc = qs + G * hd;                                          // [G * hd]
  float* scores = acc + G * hd;                                      // [G * tile]
  float* m = scores + G * tile_max;                                  // [G]
  float* l = m + G;                                                  // [G]
  float* corr = l + G;                                               // [G]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  const int64_t first_head = static_cast<int64_t>(t) * a.n_head + static_cast<int64_t>(g) * G;
  const float* q_group = a.q + first_head * hd;
  for (int i = threadIdx.x; i < G * hd; i += kThreads) qs[i] = q_group[i];
  if constexpr (kPass != Pass::kScores) {
    for (int i = threadIdx.x; i < G * hd; i += kThreads) acc[i] = 0.0f;
    for (int h = threadIdx.x; h < G; h += kThreads) {
      m[h] = -INFINITY;
      l[h] = 0.0f;
    }
  }

  const int64_t own_pos = a.pos[t];
  const int64_t n_pos = own_pos + 1;
  const int64_t chunk = (n_pos + a.splits - 1) / a.splits;
  const int64_t begin = static_cast<int64_t>(s) * chunk;
  const int64_t end = min(begin + chunk, kPass == Pass::kScores ? own_pos : n_pos);
  const int64_t row_stride = static_cast<int64_t>(a.n_kv_head) * hd;  // elements per position
  const int64_t head_at = a.seq[t] * a.seq_stride + static_cast<int64_t>(g) * hd;
  KV* k_head = k + head_at;
  const KV* v_head = v + head_at;
  float* global_scores = kPass == Pass::kWhole ? nullptr : a.scores + first_head * a.score_stride;  // [G, stride]
  float scale = a.scale;
  if constexpr (kPass == Pass::kFromScores) {
    scale = __fmul_rn(a.scale, cuda_detail::RmsScale(static_cast<double>(a.q_sums[t]), a.q_total, a.eps));
    __syncthreads();  // qs is loaded
    if (begin <= own_pos && own_pos < end) {
      StoreNewKey(a, t, g, qs, k_head + own_pos * row_stride, vs, global_scores + own_pos);  // vs: free yet
    }
  }

  for (int64_t tile = begin; tile < end; tile += tile_max) {
    const int n = static_cast<int>(end - tile < tile_max ? end - tile : tile_max);
    __syncthreads();  // the previous round is done with the tiles (and q, m, l are set)
    StageRows<KV, kPass != Pass::kFromScores, kPass != Pass::kScores>(k_head + tile * row_stride,
                                                                       v_head + tile * row_stride, row_stride, n, hd,
                                                                       pitch, ks, vs);
    __syncthreads();
    // Scores: a thread per (head, position); a warp's positions share a head, so q is a
    // broadcast (and the global scores' reads and writes are coalesced).
    for (int i = threadIdx.x; i < G * n; i += kThreads) {
      const int h = i / n, p = i - h * n;
      if constexpr (kPass == Pass::kWhole) {
        scores[h * tile_max + p] = DotStaged(qs + h * hd, ks + p * pitch, hd) * scale;
      } else if constexpr (kPass == Pass::kScores) {
        global_scores[h * a.score_stride + tile + p] = DotStaged(qs + h * hd, ks + p * pitch, hd);
      } else {
        scores[h * tile_max + p] = global_scores[h * a.score_stride + tile + p] * scale;
      }
    }
    if constexpr (kPass == Pass::kScores) continue;
    __syncthreads();
    // Online softmax: a warp per head rescales its running sums.
    for (int h = warp; h < G; h += kWarps) {
      float mx = -INFINITY;
      for (int p = lane; p < n; p += 32) mx = fmaxf(mx, scores[h * tile_max + p]);
      mx = cuda_detail::WarpMax(mx);
      const float m_new = fmaxf(m[h], mx);
      float sum = 0.0f;
      for (int p = lane; p < n; p += 32) {
        const float e = expf(scores[h * tile_max + p] - m_new);
        scores[h * tile_max + p] = e;
        sum += e;
      }
      sum = cuda_detail::WarpSum(sum);
      if (lane == 0) {
        const float c = expf(m[h] - m_new);  // 0 on the first round (m = -inf)
        corr[h] = c;
        l[h] = l[h] * c + sum;
        m[h] = m_new;
      }
    }
    __syncthreads();
    WeightedV(vs, pitch, n, scores, tile_max, corr, G, hd, acc);
  }
  if constexpr (kPass == Pass::kScores) return;
  __syncthreads();

  // Partials; an empty chunk (past this token's positions) writes m = -inf, l = 0.
  for (int i = threadIdx.x; i < G * hd; i += kThreads) {
    const int h = i / hd, d = i - h * hd;
    a.part_acc[((first_head + h) * a.splits + s) * hd + d] = acc[i];
  }
  for (int h = threadIdx.x; h < G; h += kThreads) {
    a.part_ml[((first_head + h) * a.splits + s) * 2] = m[h];
    a.part_ml[((first_head + h) * a.splits + s) * 2 + 1] = l[h];
  }
}

// Block per (token, head, slice of 32 dimensions). The split weights e^(m_s - M) (0 for
// empty splits) and the denominator first, a thread per split; then each warp sums a
// strided share of the splits' acc rows over the slice (a lane per dimension: 128-byte
// loads), the warps' sums joined in warp order. (A block per head, its threads walking
// the splits of whole rows, took 20 us per layer at 32K on an H200: 32 blocks.)
constexpr int kMergeThreads = 256;
constexpr int kMergeWarps = kMergeThreads / 32;
constexpr int kMergeSlice = 32;  // dimensions per block
static_assert(kAttentionMaxSplits <= kMergeThreads, "a merge block weighs every split with one thread");

__global__ void __launch_bounds__(kMergeThreads) MergeSplitsKernel(const float* __restrict__ part_acc,
                                                                   const float* __restrict__ part_ml, int splits,
                                                                   int head_dim, float* __restrict__ out) {
  cuda_detail::StartAfterPreviousKernel();
  __shared__ float weight[kAttentionMaxSplits];
  __shared__ float warp_sum[kMergeWarps][kMergeSlice];
  __shared__ float scratch[32];
  const int64_t head = blockIdx.x;  // t * n_head + h
  const float* ml = part_ml + head * splits * 2;
  const int s = threadIdx.x;
  const float m = s < splits ? ml[2 * s] : -INFINITY;
  const float l = s < splits ? ml[2 * s + 1] : 0.0f;
  const float max_m = cuda_detail::BlockMax(m, scratch);
  const float w = l > 0.0f ? expf(m - max_m) : 0.0f;
  if (s < splits) weight[s] = w;
  const float denom = cuda_detail::BlockSum(w * l, scratch);  // ends synchronised: weight[] is complete

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int d = static_cast<int>(blockIdx.y) * kMergeSlice + lane;
  float x = 0.0f;
  if (d < head_dim) {
    const float* acc = part_acc + head * splits * head_dim + d;
#pragma unroll 8
    for (int k = warp; k < splits; k += kMergeWarps) x = fmaf(weight[k], acc[static_cast<int64_t>(k) * head_dim], x);
  }
  warp_sum[warp][lane] = x;
  __syncthreads();
  if (warp == 0 && d < head_dim) {
    float total = 0.0f;
#pragma unroll
    for (int k = 0; k < kMergeWarps; ++k) total += warp_sum[k][lane];
    out[head * head_dim + d] = total / denom;
  }
}

// The two halves split the context alike (the same args give the same splits), so every
// position's score is written by the block of the second half that reads it.
template <typename KV, Pass kPass>
cudaError_t Run(const AttentionArgs& a, cudaStream_t stream) {
  const int hd = static_cast<int>(a.head_dim), G = static_cast<int>(a.n_head / a.n_kv_head);
  // Splits: one per kMinChunk positions, up to kAttentionMaxSplits. A split is one block's
  // serial walk, so long contexts want every split they can get; the count depends on the
  // context alone (not on the KV heads a rank holds), so every rank sums in the same order.
  if (a.seq == nullptr || a.pos == nullptr || a.ctx_bound < 1) return cudaErrorInvalidValue;
  const int64_t n_ctx_max = a.ctx_bound;
  int64_t splits = std::clamp<int64_t>((n_ctx_max + kMinChunk - 1) / kMinChunk, 1, kAttentionMaxSplits);
  const int64_t per_head = a.n_head * (hd + 2);  // floats per (token, split)
  splits = std::min(splits, a.scratch_floats / per_head);
  if (splits < 1) return cudaErrorInvalidValue;
  const int64_t chunk = (n_ctx_max + splits - 1) / splits;
  // Positions staged per round: up to 64, no more than a chunk holds (a smaller block
  // leaves room for more of them on an SM) and no more than the shared memory takes.
  int tile = 64;
  while (tile > 8 && (tile / 2 >= chunk || ChunkSharedBytes<KV, kPass>(tile, G, hd) > kSharedLimit)) tile /= 2;
  const size_t shared = ChunkSharedBytes<KV, kPass>(tile, G, hd);
  if (shared > kSharedLimit) return cudaErrorInvalidValue;
  const int64_t rows_per_launch = std::max<int64_t>(1, a.scratch_floats / (per_head * splits));

  ChunkArgs c{};
  c.n_head = static_cast<int>(a.n_head);
  c.n_kv_head = static_cast<int>(a.n_kv_head);
  c.head_dim = hd;
  c.group = G;
  c.tile = tile;
  c.splits = static_cast<int>(splits);
  c.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  c.seq_stride = a.seq_stride;
  c.score_stride = a.score_stride;
  c.q_total = a.q_total;
  c.k_total = a.k_total;
  c.eps = a.eps;
  for (int64_t t0 = 0; t0 < a.n_rows; t0 += rows_per_launch) {
    const int64_t n = std::min(rows_per_launch, a.n_rows - t0);
    c.q = a.q + t0 * a.n_head * hd;
    c.seq = a.seq + t0;
    c.pos = a.pos + t0;
    c.part_acc = a.scratch;
    c.part_ml = a.scratch + n * a.n_head * splits * hd;
    if (kPass != Pass::kWhole) {
      c.scores = a.scores + t0 * a.n_head * a.score_stride;
      c.k_new = a.k_new + t0 * a.n_kv_head * hd;
      c.q_sums = a.sums + t0;
      c.k_sums = a.sums + a.n_rows + t0;
    }
    const dim3 grid(static_cast<unsigned>(splits), static_cast<unsigned>(a.n_kv_head), static_cast<unsigned>(n));
    if (cudaError_t err =
            cuda_detail::LaunchAfterPrevious(AttendChunkKernel<KV, kPass>, grid, kThreads, shared, stream, c,
                                             static_cast<KV*>(a.k), static_cast<const KV*>(a.v));
        err != cudaSuccess) {
      return err;
    }
    if (kPass == Pass::kScores) continue;
    if (cudaError_t err =
            cuda_detail::LaunchAfterPrevious(MergeSplitsKernel,
                                             dim3(static_cast<unsigned>(n * a.n_head),
                                                  static_cast<unsigned>((hd + kMergeSlice - 1) / kMergeSlice)),
                                             kMergeThreads, 0, stream, c.part_acc, c.part_ml, c.splits, hd,
                                             a.out + t0 * a.n_head * hd);
        err != cudaSuccess) {
      return err;
    }
  }
  return cudaSuccess;
}

template <Pass kPass>
cudaError_t RunPass(const AttentionArgs& a, cudaStream_t stream) {
  if (a.n_rows <= 0) return cudaSuccess;
  if (a.head_dim <= 0 || a.head_dim > kAttentionMaxHeadDim || a.n_kv_head <= 0 || a.n_head % a.n_kv_head != 0) {
    return cudaErrorInvalidValue;
  }
  if (kPass != Pass::kWhole && (a.scores == nullptr || a.score_stride < 1)) return cudaErrorInvalidValue;
  if (kPass == Pass::kFromScores && (a.k_new == nullptr || a.sums == nullptr || a.q_total < 1 || a.k_total < 1)) {
    return cudaErrorInvalidValue;
  }
  return a.f16 ? Run<__half, kPass>(a, stream) : Run<float, kPass>(a, stream);
}

}  // namespace

cudaError_t AttentionCausal(const AttentionArgs& a, cudaStream_t stream) { return RunPass<Pass::kWhole>(a, stream); }

cudaError_t AttentionScores(const AttentionArgs& a, cudaStream_t stream) { return RunPass<Pass::kScores>(a, stream); }

cudaError_t AttentionFromScores(const AttentionArgs& a, cudaStream_t stream) {
  return RunPass<Pass::kFromScores>(a, stream);
}

}  // namespace tandem
