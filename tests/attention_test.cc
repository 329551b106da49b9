// Attention against a double-precision softmax(q k / sqrt(d)) v, on the GQA groupings of
// qwen3moe (32 q / 4 kv heads) and minimax-m2 (48 / 8), odd small layouts, f32 and f16
// caches, contexts of 1, 7 and 300, large scores (stable softmax), and prefill with a
// causal mask agreeing with decode token by token; the two halves of a decode step around
// q's scale (AttentionScores, AttentionFromScores) against the same reference.
#include "kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/fp16.h"

namespace tandem {
namespace {

struct AttnCase {
  const char* what;
  int64_t n_head;
  int64_t n_kv_head;
  int64_t head_dim;
  float q_scale;  // large values make scores far beyond exp's f32 range
};

constexpr AttnCase kCases[] = {
    {"qwen3 32/4x128", 32, 4, 128, 1.0f},
    {"minimax 48/8x128", 48, 8, 128, 1.0f},
    {"odd 3/1x8", 3, 1, 8, 1.0f},
    {"odd 6/3x4", 6, 3, 4, 1.0f},
    {"mha 4/4x16", 4, 4, 16, 1.0f},
    {"large scores 8/2x64", 8, 2, 64, 40.0f},
};

constexpr int64_t kContexts[] = {1, 7, 300};

// A cache in the storage under test plus its values as read back (f16-rounded).
struct Cache {
  std::vector<float> f32;
  std::vector<uint16_t> f16;
  std::vector<float> values;
  KvView view;
};

Cache MakeCache(KvStorage storage, int64_t n_ctx, int64_t n_kv_head, int64_t head_dim, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Cache c;
  c.values.resize(n_ctx * n_kv_head * head_dim);
  for (float& v : c.values) v = normal(rng);
  if (storage == KvStorage::kF16) {
    for (float& v : c.values) {
      c.f16.push_back(F32ToF16(v));
      v = F16ToF32(c.f16.back());
    }
    c.view.data = c.f16.data();
  } else {
    c.f32 = c.values;
    c.view.data = c.f32.data();
  }
  c.view.storage = storage;
  c.view.n_kv_head = n_kv_head;
  c.view.head_dim = head_dim;
  return c;
}

// out: [n_head, head_dim] for one query attending to positions [0, n_pos), in double.
std::vector<double> Reference(const AttnCase& c, const float* q, const Cache& k, const Cache& v, int64_t n_pos) {
  const int64_t d = c.head_dim, stride = c.n_kv_head * d, group = c.n_head / c.n_kv_head;
  std::vector<double> out(c.n_head * d, 0.0);
  for (int64_t h = 0; h < c.n_head; ++h) {
    const int64_t kv = h / group;
    std::vector<double> s(n_pos);
    for (int64_t p = 0; p < n_pos; ++p) {
      double dot = 0;
      for (int64_t i = 0; i < d; ++i) dot += static_cast<double>(q[h * d + i]) * k.values[p * stride + kv * d + i];
      s[p] = dot / std::sqrt(static_cast<double>(d));
    }
    const double m = *std::max_element(s.begin(), s.end());
    double sum = 0;
    for (double& x : s) sum += (x = std::exp(x - m));
    for (int64_t p = 0; p < n_pos; ++p) {
      for (int64_t i = 0; i < d; ++i) out[h * d + i] += s[p] / sum * v.values[p * stride + kv * d + i];
    }
  }
  return out;
}

std::vector<float> RandomQ(int64_t n, float scale, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> q(n);
  for (float& x : q) x = normal(rng);
  return q;
}

// Outputs are convex mixes of v (|v| ~ 1): absolute error bound, looser when scores are large.
void ExpectNear(const AttnCase& c, const float* out, const std::vector<double>& ref) {
  const double tol = 2e-5 * c.q_scale;
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(out[i], ref[i], tol) << "element " << i;
}

TEST(AttentionTest, DecodeMatchesDoubleReference) {
  std::mt19937 rng(21);
  ThreadPool pool(3);
  for (KvStorage storage : {KvStorage::kF32, KvStorage::kF16}) {
    for (const AttnCase& c : kCases) {
      for (int64_t n_ctx : kContexts) {
        SCOPED_TRACE(testing::Message() << c.what << (storage == KvStorage::kF16 ? " f16" : " f32") << " n_ctx "
                                        << n_ctx);
        // The cache is longer than the used context: positions past n_ctx must be ignored.
        const Cache k = MakeCache(storage, n_ctx + 3, c.n_kv_head, c.head_dim, rng);
        const Cache v = MakeCache(storage, n_ctx + 3, c.n_kv_head, c.head_dim, rng);
        const std::vector<float> q = RandomQ(c.n_head * c.head_dim, c.q_scale, rng);
        std::vector<float> out(q.size()), out_pool(q.size());
        AttentionDecode(q.data(), c.n_head, k.view, v.view, n_ctx, out.data(), nullptr);
        AttentionDecode(q.data(), c.n_head, k.view, v.view, n_ctx, out_pool.data(), &pool);
        ExpectNear(c, out.data(), Reference(c, q.data(), k, v, n_ctx));
        EXPECT_EQ(out, out_pool) << "threads change the result";
      }
    }
  }
}

TEST(AttentionTest, PrefillIsCausalAndMatchesDecode) {
  std::mt19937 rng(22);
  ThreadPool pool(2);
  constexpr int64_t kTokens = 5;
  for (KvStorage storage : {KvStorage::kF32, KvStorage::kF16}) {
    for (const AttnCase& c : kCases) {
      for (int64_t p0 : {0, 10}) {
        SCOPED_TRACE(testing::Message() << c.what << " p0 " << p0);
        const Cache k = MakeCache(storage, p0 + kTokens, c.n_kv_head, c.head_dim, rng);
        const Cache v = MakeCache(storage, p0 + kTokens, c.n_kv_head, c.head_dim, rng);
        const int64_t q_size = c.n_head * c.head_dim;
        const std::vector<float> q = RandomQ(kTokens * q_size, c.q_scale, rng);
        std::vector<float> out(q.size()), decoded(q_size);
        AttentionPrefill(q.data(), kTokens, c.n_head, p0, k.view, v.view, out.data(), &pool);
        for (int64_t t = 0; t < kTokens; ++t) {
          const float* out_t = out.data() + t * q_size;
          ExpectNear(c, out_t, Reference(c, q.data() + t * q_size, k, v, p0 + t + 1));
          AttentionDecode(q.data() + t * q_size, c.n_head, k.view, v.view, p0 + t + 1, decoded.data(), nullptr);
          EXPECT_EQ(std::vector<float>(out_t, out_t + q_size), decoded) << "token " << t;
        }
      }
    }
  }
}

// Scores in two ranges, then the softmax of the scores times c / sqrt(d): the attention of
// c q. The scores past the written range keep their sentinel.
TEST(AttentionTest, ScoresThenFromScoresIsTheAttentionOfTheScaledQuery) {
  std::mt19937 rng(23);
  ThreadPool pool(3);
  constexpr float kSentinel = 12345.0f;
  for (KvStorage storage : {KvStorage::kF32, KvStorage::kF16}) {
    for (const AttnCase& c : kCases) {
      for (int64_t n_pos : kContexts) {
        for (float q_scale : {0.37f, 2.5f}) {
          SCOPED_TRACE(testing::Message() << c.what << (storage == KvStorage::kF16 ? " f16" : " f32") << " n_pos "
                                          << n_pos << " scale " << q_scale);
          const int64_t stride = n_pos + 5;
          const Cache k = MakeCache(storage, stride, c.n_kv_head, c.head_dim, rng);
          const Cache v = MakeCache(storage, stride, c.n_kv_head, c.head_dim, rng);
          const std::vector<float> q = RandomQ(c.n_head * c.head_dim, c.q_scale, rng);
          std::vector<float> scores(static_cast<size_t>(c.n_head * stride), kSentinel);
          const int64_t cut = n_pos / 2;
          AttentionScores(q.data(), c.n_head, k.view, 0, cut, scores.data(), stride, &pool);
          AttentionScores(q.data(), c.n_head, k.view, cut, n_pos, scores.data(), stride, nullptr);
          for (int64_t h = 0; h < c.n_head; ++h) {
            for (int64_t p = n_pos; p < stride; ++p) ASSERT_EQ(scores[h * stride + p], kSentinel) << h << " " << p;
          }
          std::vector<float> out(q.size()), out_pool(q.size());
          const float scale = q_scale / std::sqrt(static_cast<float>(c.head_dim));
          AttentionFromScores(scores.data(), stride, scale, c.n_head, v.view, n_pos, out.data(), nullptr);
          AttentionFromScores(scores.data(), stride, scale, c.n_head, v.view, n_pos, out_pool.data(), &pool);
          std::vector<float> scaled_q = q;
          for (float& x : scaled_q) x *= q_scale;
          const AttnCase scaled{c.what, c.n_head, c.n_kv_head, c.head_dim, c.q_scale * q_scale};
          ExpectNear(scaled, out.data(), Reference(c, scaled_q.data(), k, v, n_pos));
          EXPECT_EQ(out, out_pool) << "threads change the result";
        }
      }
    }
  }
}

}  // namespace
}  // namespace tandem
