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

// One query head against cache positions [0, n_pos) of one kv head.
// q, out: [head_dim]; k, v: the cache base, rows of `stride` elements per position.
template <typename T>
void AttendOne(const float* q, const T* k, const T* v, int64_t stride, int64_t head_dim, int64_t n_pos,
               float scale, float* scores, float* out) {
  float max_score = -INFINITY;
  for (int64_t p = 0; p < n_pos; ++p) {
    const T* k_row = k + p * stride;
    float dot = 0.0f;
    for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * Load(k_row + d);
    scores[p] = dot * scale;
    max_score = std::max(max_score, scores[p]);
  }
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

void AttentionDecode(const float* q, int64_t n_head, const KvView& k, const KvView& v, int64_t n_ctx_used,
                     float* out, ThreadPool* pool) {
  AttentionPrefill(q, 1, n_head, n_ctx_used - 1, k, v, out, pool);
}

}  // namespace tandem
