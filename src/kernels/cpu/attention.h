// Causal softmax attention against a KV cache, with grouped-query heads.
// Cache layout: [n_ctx, n_kv_head, head_dim] in f32 or f16 storage; query head h reads
// kv head h / (n_head / n_kv_head). Scores are scaled by 1 / sqrt(head_dim); the softmax
// subtracts the row maximum. Threads split the (token, head) pairs.
#pragma once

#include <cstdint>

#include "common/thread_pool.h"

namespace tandem {

enum class KvStorage { kF32, kF16 };

// One layer's K or V cache: data is [n_ctx, n_kv_head, head_dim] of storage
// (float or uint16_t f16 bits); only the first positions the call names are read.
struct KvView {
  const void* data = nullptr;
  KvStorage storage = KvStorage::kF32;
  int64_t n_kv_head = 0;
  int64_t head_dim = 0;
};

// Decode: one query at position n_ctx_used - 1, attending to cache positions [0, n_ctx_used).
// q: [n_head, head_dim] f32, out: [n_head, head_dim] f32; n_head a multiple of k.n_kv_head.
void AttentionDecode(const float* q, int64_t n_head, const KvView& k, const KvView& v, int64_t n_ctx_used,
                     float* out, ThreadPool* pool);

// Prefill: n_tokens queries at positions p0 .. p0 + n_tokens - 1 (the cache already holds
// them); token t attends to cache positions [0, p0 + t].
// q: [n_tokens, n_head, head_dim] f32, out: [n_tokens, n_head, head_dim] f32.
void AttentionPrefill(const float* q, int64_t n_tokens, int64_t n_head, int64_t p0, const KvView& k,
                      const KvView& v, float* out, ThreadPool* pool);

// One decode query's attention in two halves, around a scale of q not known at first
// (minimax-m2's whole-projection q norm, all-reduced meanwhile): the raw scores, then the
// softmax of the scaled scores and the weighted V. Scaling q by c scales every score by c,
// so AttentionFromScores(scale = c / sqrt(head_dim)) after AttentionScores equals
// AttentionDecode of c * q up to rounding.
//
// scores[h * stride + p] = q[h] . k[p] for each query head h and positions p in
// [begin, end); q: [n_head, head_dim] f32.
void AttentionScores(const float* q, int64_t n_head, const KvView& k, int64_t begin, int64_t end, float* scores,
                     int64_t stride, ThreadPool* pool);
// out[h]: [head_dim] = sum over positions p < n_pos of softmax_p(scores[h * stride + p] *
// scale) v[p]; out: [n_head, head_dim] f32.
void AttentionFromScores(const float* scores, int64_t stride, float scale, int64_t n_head, const KvView& v,
                         int64_t n_pos, float* out, ThreadPool* pool);

}  // namespace tandem
