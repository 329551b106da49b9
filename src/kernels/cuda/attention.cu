// Split-context attention (see attention.h): AttendChunkKernel writes, for each (token,
// query head, split), the chunk's running max m, sum l = sum exp(s - m) and acc =
// sum exp(s - m) v; MergeSplitsKernel joins the splits as sum_s e^(m_s - M) acc_s /
// sum_s e^(m_s - M) l_s.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace tandem {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 64;                               // positions scored per round
constexpr int kDimsPerLane = kAttentionMaxHeadDim / 32; // K values a lane holds
constexpr int kMinChunk = 128;                          // fewest positions worth a split

__device__ __forceinline__ float LoadKv(const float* p) { return *p; }
__device__ __forceinline__ float LoadKv(const __half* p) { return __half2float(*p); }

struct ChunkArgs {
  const float* q;
  int n_head, n_kv_head, head_dim, group;  // group = n_head / n_kv_head
  int64_t pos0;
  const int64_t* device_pos;               // non-null: pos0 read here, chunk from it
  int chunk;                               // positions per split
  int splits;
  float scale;                             // 1 / sqrt(head_dim)
  float* part_acc;                         // [n_tokens, n_head, splits, head_dim]
  float* part_ml;                          // [n_tokens, n_head, splits, 2]
};

// Block (split s, KV head g, token t). Shared: q of the group [group, head_dim], acc
// [group, head_dim], scores [group, kTile], and per head m, l and this round's correction.
template <typename KV>
__global__ void __launch_bounds__(kThreads) AttendChunkKernel(ChunkArgs a, const KV* __restrict__ k,
                                                             const KV* __restrict__ v) {
  extern __shared__ float shared[];
  const int s = blockIdx.x, g = blockIdx.y, t = blockIdx.z;
  const int hd = a.head_dim, G = a.group;
  float* qs = shared;                 // [G * hd]
  float* acc = qs + G * hd;           // [G * hd]
  float* scores = acc + G * hd;       // [G * kTile]
  float* m = scores + G * kTile;      // [G]
  float* l = m + G;                   // [G]
  float* corr = l + G;                // [G]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  const float* q_group = a.q + (static_cast<int64_t>(t) * a.n_head + static_cast<int64_t>(g) * G) * hd;
  for (int i = threadIdx.x; i < G * hd; i += kThreads) {
    qs[i] = q_group[i];
    acc[i] = 0.0f;
  }
  for (int h = threadIdx.x; h < G; h += kThreads) {
    m[h] = -INFINITY;
    l[h] = 0.0f;
  }
  __syncthreads();

  const int64_t pos0 = a.device_pos != nullptr ? *a.device_pos : a.pos0;
  const int64_t n_pos = pos0 + t + 1;
  const int64_t chunk = a.device_pos != nullptr ? (n_pos + a.splits - 1) / a.splits : a.chunk;
  const int64_t begin = static_cast<int64_t>(s) * chunk;
  const int64_t end = min(begin + chunk, n_pos);
  const int64_t row_stride = static_cast<int64_t>(a.n_kv_head) * hd;  // elements per position
  const KV* k_head = k + static_cast<int64_t>(g) * hd;
  const KV* v_head = v + static_cast<int64_t>(g) * hd;

  for (int64_t tile = begin; tile < end; tile += kTile) {
    const int n = static_cast<int>(end - tile < kTile ? end - tile : kTile);
    // Scores: a warp per position, its K row held in registers for every head of the group.
    for (int p = warp; p < n; p += kWarps) {
      const KV* k_row = k_head + (tile + p) * row_stride;
      float kv[kDimsPerLane];
#pragma unroll
      for (int i = 0; i < kDimsPerLane; ++i) {
        const int d = lane + 32 * i;
        kv[i] = d < hd ? LoadKv(k_row + d) : 0.0f;
      }
      for (int h = 0; h < G; ++h) {
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < kDimsPerLane; ++i) {
          const int d = lane + 32 * i;
          if (d < hd) dot = fmaf(qs[h * hd + d], kv[i], dot);
        }
        dot = cuda_detail::WarpSum(dot);
        if (lane == 0) scores[h * kTile + p] = dot * a.scale;
      }
    }
    __syncthreads();
    // Online softmax: a warp per head rescales its running sums.
    for (int h = warp; h < G; h += kWarps) {
      float mx = -INFINITY;
      for (int p = lane; p < n; p += 32) mx = fmaxf(mx, scores[h * kTile + p]);
      mx = cuda_detail::WarpMax(mx);
      const float m_new = fmaxf(m[h], mx);
      float sum = 0.0f;
      for (int p = lane; p < n; p += 32) {
        const float e = expf(scores[h * kTile + p] - m_new);
        scores[h * kTile + p] = e;
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
    // Weighted V: a thread per (head, dim), coalesced along the V row.
    for (int i = threadIdx.x; i < G * hd; i += kThreads) {
      const int h = i / hd, d = i - h * hd;
      float x = acc[i] * corr[h];
      const float* w = scores + h * kTile;
      const KV* v_col = v_head + tile * row_stride + d;
      for (int p = 0; p < n; ++p) x = fmaf(w[p], LoadKv(v_col + p * row_stride), x);
      acc[i] = x;
    }
    __syncthreads();
  }

  // Partials; an empty chunk (past this token's positions) writes m = -inf, l = 0.
  for (int i = threadIdx.x; i < G * hd; i += kThreads) {
    const int h = i / hd, d = i - h * hd;
    const int64_t head = static_cast<int64_t>(t) * a.n_head + static_cast<int64_t>(g) * G + h;
    a.part_acc[(head * a.splits + s) * hd + d] = acc[i];
  }
  for (int h = threadIdx.x; h < G; h += kThreads) {
    const int64_t head = static_cast<int64_t>(t) * a.n_head + static_cast<int64_t>(g) * G + h;
    a.part_ml[(head * a.splits + s) * 2] = m[h];
    a.part_ml[(head * a.splits + s) * 2 + 1] = l[h];
  }
}

// Block per (token, head): threads over head_dim.
__global__ void __launch_bounds__(kThreads) MergeSplitsKernel(const float* __restrict__ part_acc,
                                                             const float* __restrict__ part_ml, int splits,
                                                             int head_dim, float* __restrict__ out) {
  const int64_t head = blockIdx.x;  // t * n_head + h
  const float* ml = part_ml + head * splits * 2;
  float max_m = -INFINITY;
  for (int s = 0; s < splits; ++s) max_m = fmaxf(max_m, ml[2 * s]);
  float denom = 0.0f;
  for (int s = 0; s < splits; ++s) {
    if (ml[2 * s + 1] > 0.0f) denom += expf(ml[2 * s] - max_m) * ml[2 * s + 1];
  }
  const float inv = 1.0f / denom;
  for (int d = threadIdx.x; d < head_dim; d += kThreads) {
    float x = 0.0f;
    for (int s = 0; s < splits; ++s) {
      if (ml[2 * s + 1] > 0.0f) x = fmaf(expf(ml[2 * s] - max_m), part_acc[(head * splits + s) * head_dim + d], x);
    }
    out[head * head_dim + d] = x * inv;
  }
}

template <typename KV>
cudaError_t Run(const AttentionArgs& a, cudaStream_t stream) {
  const int hd = static_cast<int>(a.head_dim), G = static_cast<int>(a.n_head / a.n_kv_head);
  const size_t shared = sizeof(float) * (2 * static_cast<size_t>(G) * hd + static_cast<size_t>(G) * kTile + 3 * G);
  if (shared > 48 * 1024) return cudaErrorInvalidValue;
  // Splits: enough to spread a long context over the device, each at least kMinChunk long.
  if (a.device_pos != nullptr && (a.n_tokens != 1 || a.ctx_bound < 1)) return cudaErrorInvalidValue;
  const int64_t n_ctx_max = a.device_pos != nullptr ? a.ctx_bound : a.pos0 + a.n_tokens;
  int64_t splits = std::clamp<int64_t>((n_ctx_max + kMinChunk - 1) / kMinChunk, 1, kAttentionMaxSplits);
  const int64_t per_head = a.n_head * (hd + 2);  // floats per (token, split)
  splits = std::min(splits, a.scratch_floats / per_head);
  if (splits < 1) return cudaErrorInvalidValue;
  const int64_t chunk = (n_ctx_max + splits - 1) / splits;
  const int64_t tokens_per_launch = std::max<int64_t>(1, a.scratch_floats / (per_head * splits));

  ChunkArgs c{};
  c.n_head = static_cast<int>(a.n_head);
  c.n_kv_head = static_cast<int>(a.n_kv_head);
  c.head_dim = hd;
  c.group = G;
  c.chunk = static_cast<int>(chunk);
  c.splits = static_cast<int>(splits);
  c.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  c.device_pos = a.device_pos;
  for (int64_t t0 = 0; t0 < a.n_tokens; t0 += tokens_per_launch) {
    const int64_t n = std::min(tokens_per_launch, a.n_tokens - t0);
    c.q = a.q + t0 * a.n_head * hd;
    c.pos0 = a.pos0 + t0;
    c.part_acc = a.scratch;
    c.part_ml = a.scratch + n * a.n_head * splits * hd;
    const dim3 grid(static_cast<unsigned>(splits), static_cast<unsigned>(a.n_kv_head), static_cast<unsigned>(n));
    AttendChunkKernel<KV><<<grid, kThreads, shared, stream>>>(c, static_cast<const KV*>(a.k),
                                                              static_cast<const KV*>(a.v));
    if (cudaError_t err = cudaGetLastError(); err != cudaSuccess) return err;
    MergeSplitsKernel<<<static_cast<unsigned>(n * a.n_head), kThreads, 0, stream>>>(
        c.part_acc, c.part_ml, c.splits, hd, a.out + t0 * a.n_head * hd);
    if (cudaError_t err = cudaGetLastError(); err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t AttentionCausal(const AttentionArgs& a, cudaStream_t stream) {
  if (a.n_tokens <= 0) return cudaSuccess;
  if (a.head_dim <= 0 || a.head_dim > kAttentionMaxHeadDim || a.n_kv_head <= 0 || a.n_head % a.n_kv_head != 0) {
    return cudaErrorInvalidValue;
  }
  return a.f16 ? Run<__half>(a, stream) : Run<float>(a, stream);
}

}  // namespace tandem
