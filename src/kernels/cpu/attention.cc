#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "kernels/cpu/fp16.h"

namespace tandem {
namespace {

inline float Load(const float* p) { return *p; }
inline float Load(const uint16_t* p) { return F16ToF32(*p); }

template <typename T>
float Dot(const float* q, const T* k_row, int64_t head_dim) {
  float dot = 0.0f;
  for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * Load(k_row + d);
  return dot;
}

// out: [head_dim] = softmax(scores[0, n_pos)) times the rows of v (the cache base, rows of
// `stride` elements per position); scores are overwritten.
template <typename T>
void WeighValues(float* scores, int64_t n_pos, const T* v, int64_t stride, int64_t head_dim, float* out) {
  const float max_score = *std::max_element(scores, scores + n_pos);
  double sum = 0.0;
  for (int64_t p = 0; p < n_pos; ++p) {
    scores[p] = std::exp(scores[p] - max_score);
    sum += scores[p];
  }
  const float inv_sum = static_cast<float>(1.0 / sum);
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t p = 0; p < n_pos; ++p) {
    const T* v_row = v + p * stride;
    const float weight = scores[p] * inv_sum;
    for (int64_t d = 0; d < head_dim; ++d) out[d] += weight * Load(v_row + d);
  }
}

// One query head against cache positions [0, n_pos) of one kv head.
// q, out: [head_dim]; k, v: the cache base, rows of `stride` elements per position.
template <typename T>
void AttendOne(const float* q, const T* k, const T* v, int64_t stride, int64_t head_dim, int64_t n_pos,
               float scale, float* scores, float* out) {
  for (int64_t p = 0; p < n_pos; ++p) scores[p] = Dot(q, k + p * stride, head_dim) * scale;
  WeighValues(scores, n_pos, v, stride, head_dim, out);
}

// Runs body(h) for each query head h, on the pool when there is one.
template <typename Body>
void EachHead(int64_t n_head, ThreadPool* pool, const Body& body) {
  auto heads = [&](int64_t begin, int64_t end) {
    for (int64_t h = begin; h < end; ++h) body(h);
  };
  if (pool) {
    pool->ParallelFor(n_head, heads);
  } else {
    heads(0, n_head);
  }
}

template <typename T>
void Scores(const float* q, int64_t n_head, const KvView& k, int64_t begin, int64_t end, float* scores,
            int64_t stride, ThreadPool* pool) {
  const int64_t head_dim = k.head_dim, group = n_head / k.n_kv_head, row = k.n_kv_head * head_dim;
  const T* k_data = static_cast<const T*>(k.data);
  EachHead(n_head, pool, [&](int64_t h) {
    const T* k_head = k_data + h / group * head_dim;
    for (int64_t p = begin; p < end; ++p) scores[h * stride + p] = Dot(q + h * head_dim, k_head + p * row, head_dim);
  });
}

template <typename T>
void FromScores(const float* scores, int64_t stride, float scale, int64_t n_head, const KvView& v, int64_t n_pos,
                float* out, ThreadPool* pool) {
  const int64_t head_dim = v.head_dim, group = n_head / v.n_kv_head, row = v.n_kv_head * head_dim;
  const T* v_data = static_cast<const T*>(v.data);
  EachHead(n_head, pool, [&](int64_t h) {
    std::vector<float> scaled(static_cast<size_t>(n_pos));
    for (int64_t p = 0; p < n_pos; ++p) scaled[p] = scores[h * stride + p] * scale;
    WeighValues(scaled.data(), n_pos, v_data + h / group * head_dim, row, head_dim, out + h * head_dim);
  });
}

template <typename T>
void Attend(const float* q, int64_t n_tokens, int64_t n_head, int64_t p0, const KvView& k, const KvView& v,
            float* out, ThreadPool* pool) {
  const int64_t head_dim = k.head_dim;
  const int64_t group = n_head / k.n_kv_head;
  const int64_t stride = k.n_kv_head * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const T* k_data = static_cast<const T*>(k.data);
  const T* v_data = static_cast<const T*>(v.data);
  auto pairs = [&](int64_t begin, int64_t end) {
    std::vector<float> scores(p0 + n_tokens);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t t = i / n_head;
      const int64_t h = i % n_head;
      const int64_t kv_offset = h / group * head_dim;
      AttendOne(q + i * head_dim, k_data + kv_offset, v_data + kv_offset, stride, head_dim, p0 + t + 1, scale,
                scores.data(), out + i * head_dim);
    }
  };
  if (pool) {
    pool->ParallelFor(n_tokens * n_head, pairs);
  } else {
    pairs(0, n_tokens * n_head);
  }
}

}  // namespace

void AttentionPrefill(const float* q, int64_t n_tokens, int64_t n_head, int64_t p0, const KvView& k,
                      const KvView& v, float* out, ThreadPool* pool) {
  assert(k.storage == v.storage && k.n_kv_head == v.n_kv_head && k.head_dim == v.head_dim);
  assert(k.n_kv_head > 0 && n_head % k.n_kv_head == 0);
  if (k.storage == KvStorage::kF16) {
    Attend<uint16_t>(q, n_tokens, n_head, p0, k, v, out, pool);
  } else {
    Attend<float>(q, n_tokens, n_head, p0, k, v, out, pool);
  }
}

void AttentionScores(const float* q, int64_t n_head, const KvView& k, int64_t begin, int64_t end, float* scores,
                     int64_t stride, ThreadPool* pool) {
  assert(k.n_kv_head > 0 && n_head % k.n_kv_head == 0 && 0 <= begin && begin <= end && end <= stride);
  if (k.storage == KvStorage::kF16) {
    Scores<uint16_t>(q, n_head, k, begin, end, scores, stride, pool);
  } else {
    Scores<float>(q, n_head, k, begin, end, scores, stride, pool);
  }
}

void AttentionFromScores(const float* scores, int64_t stride, float scale, int64_t n_head, const KvView& v,
                         int64_t n_pos, float* out, ThreadPool* pool) {
  assert(v.n_kv_head > 0 && n_head % v.n_kv_head == 0 && 0 < n_pos && n_pos <= stride);
  if (v.storage == KvStorage::kF16) {
    FromScores<uint16_t>(scores, stride, scale, n_head, v, n_pos, out, pool);
  } else {
    FromScores<float>(scores, stride, scale, n_head, v, n_pos, out, pool);
  }
}

void AttentionDecode(const float* q, int64_t n_head, const KvView& k, const KvView& v, int64_t n_ctx_used,
                     float* out, ThreadPool* pool) {
  AttentionPrefill(q, 1, n_head, n_ctx_used - 1, k, v, out, pool);
}

}  // namespace tandem
