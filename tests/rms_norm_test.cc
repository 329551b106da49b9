// RMSNorm against the double formula: whole vectors (the hidden state, MiniMax's q/k over
// the whole projection), per head groups (Qwen3's q/k norm), no weight, in place, eps
// dominating tiny inputs, and a sharded norm (partial sums added) agreeing with the whole.
#include "kernels/cpu/rms_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace tandem {
namespace {

struct NormCase {
  const char* what;
  int64_t n_groups;
  int64_t group_size;
  float x_scale;
  float eps;
  bool weighted;
};

constexpr NormCase kCases[] = {
    {"qwen3 hidden", 1, 2048, 1.0f, 1e-6f, true},
    {"minimax hidden", 1, 3072, 3.0f, 1e-6f, true},
    {"minimax q whole projection 48x128", 1, 6144, 1.0f, 1e-6f, true},
    {"minimax k whole projection 8x128", 1, 1024, 1.0f, 1e-6f, true},
    {"qwen3 q per head 32x128", 32, 128, 1.0f, 1e-6f, true},
    {"qwen3 k per head 4x128", 4, 128, 50.0f, 1e-6f, true},
    {"no weight", 3, 7, 1.0f, 1e-5f, false},
    {"one element", 1, 1, 2.0f, 1e-6f, true},
    {"odd size", 5, 33, 1.0f, 1e-5f, true},
    {"eps dominates tiny x", 2, 64, 1e-5f, 1e-6f, true},
};

// x, w, y in double: y = x / sqrt(mean(x^2) + eps) * w per group.
std::vector<double> Reference(const NormCase& c, const std::vector<float>& x, const std::vector<float>& w) {
  std::vector<double> y(x.size());
  for (int64_t g = 0; g < c.n_groups; ++g) {
    const float* xg = x.data() + g * c.group_size;
    double sum = 0;
    for (int64_t i = 0; i < c.group_size; ++i) sum += static_cast<double>(xg[i]) * xg[i];
    const double scale = 1.0 / std::sqrt(sum / c.group_size + c.eps);
    for (int64_t i = 0; i < c.group_size; ++i) y[g * c.group_size + i] = xg[i] * scale * (c.weighted ? w[i] : 1.0);
  }
  return y;
}

TEST(RmsNormTest, MatchesDoubleReference) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const NormCase& c : kCases) {
    SCOPED_TRACE(c.what);
    const int64_t n = c.n_groups * c.group_size;
    std::vector<float> x(n), w(c.group_size);
    for (float& v : x) v = normal(rng) * c.x_scale;
    for (float& v : w) v = 1.0f + 0.3f * normal(rng);
    const std::vector<double> ref = Reference(c, x, w);
    std::vector<float> y(n);
    RmsNormGroups(x.data(), c.weighted ? w.data() : nullptr, c.n_groups, c.group_size, c.eps, y.data());
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(y[i], ref[i], 2e-6 * std::fabs(ref[i]) + 1e-12) << "i " << i;

    std::vector<float> in_place = x;
    RmsNormGroups(in_place.data(), c.weighted ? w.data() : nullptr, c.n_groups, c.group_size, c.eps,
                  in_place.data());
    EXPECT_EQ(in_place, y);
    if (c.n_groups == 1) {
      std::vector<float> whole(n);
      RmsNorm(x.data(), c.weighted ? w.data() : nullptr, n, c.eps, whole.data());
      EXPECT_EQ(whole, y);
    }
  }
}

// Sharded over 1..4 devices (uneven splits): all-reduced partial sums give the same norm.
TEST(RmsNormTest, ShardedMatchesWhole) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t n : {6144, 1024, 3072, 7}) {
    std::vector<float> x(n), w(n), whole(n);
    for (float& v : x) v = normal(rng);
    for (float& v : w) v = normal(rng);
    RmsNorm(x.data(), w.data(), n, 1e-6f, whole.data());
    for (int64_t shards : {1, 2, 3, 4}) {
      SCOPED_TRACE(testing::Message() << "n " << n << " shards " << shards);
      double sum = 0;
      for (int64_t s = 0; s < shards; ++s) {
        const int64_t begin = n * s / shards, end = n * (s + 1) / shards;
        sum += SumSquares(x.data() + begin, end - begin);
      }
      std::vector<float> sharded(n);
      for (int64_t s = 0; s < shards; ++s) {
        const int64_t begin = n * s / shards, end = n * (s + 1) / shards;
        RmsNormApply(x.data() + begin, w.data() + begin, end - begin, sum, n, 1e-6f, sharded.data() + begin);
      }
      EXPECT_EQ(sharded, whole);
    }
  }
}

TEST(RmsNormTest, SumSquares) {
  const float x[] = {1.0f, -2.0f, 3.0f, 0.5f};
  EXPECT_EQ(SumSquares(x, 4), 14.25);
  EXPECT_EQ(SumSquares(x, 0), 0.0);
}

}  // namespace
}  // namespace tandem
