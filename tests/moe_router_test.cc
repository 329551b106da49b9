// MoE routers: hand-made cases (ties, renormalisation, bias changing the choice but not
// the weights, the denominator clamp, expert_weights_scale) and random logits on the
// expert counts of qwen3moe (128, top 8) and minimax-m2 (256, top 8) against a
// sort-based double reference.
#include "kernels/cpu/moe_router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace tandem {
namespace {

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

Routed Softmax(const std::vector<float>& logits, int64_t k, bool norm) {
  Routed r{std::vector<int32_t>(k), std::vector<float>(k)};
  RouteSoftmax(logits.data(), static_cast<int64_t>(logits.size()), k, norm, r.ids.data(), r.weights.data());
  return r;
}

Routed Sigmoid(const std::vector<float>& logits, const std::vector<float>& bias, int64_t k, float scale) {
  Routed r{std::vector<int32_t>(k), std::vector<float>(k)};
  RouteSigmoid(logits.data(), bias.empty() ? nullptr : bias.data(), static_cast<int64_t>(logits.size()), k,
               scale, r.ids.data(), r.weights.data());
  return r;
}

double Sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TEST(MoeRouterTest, SoftmaxHandMade) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f, 0.0f};
  const Routed norm = Softmax(logits, 2, true);
  EXPECT_EQ(norm.ids, (std::vector<int32_t>{1, 3}));  // tie: lower index first
  EXPECT_NEAR(norm.weights[0], 0.5, 1e-7);
  EXPECT_NEAR(norm.weights[1], 0.5, 1e-7);

  const Routed raw = Softmax(logits, 3, false);
  EXPECT_EQ(raw.ids, (std::vector<int32_t>{1, 3, 2}));
  const double z = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0) + 1.0;
  EXPECT_NEAR(raw.weights[0], std::exp(3.0) / z, 1e-7);
  EXPECT_NEAR(raw.weights[2], std::exp(2.0) / z, 1e-7);

  const Routed all_equal = Softmax({0.5f, 0.5f, 0.5f, 0.5f}, 4, true);
  EXPECT_EQ(all_equal.ids, (std::vector<int32_t>{0, 1, 2, 3}));
  for (float w : all_equal.weights) EXPECT_NEAR(w, 0.25, 1e-7);
}

TEST(MoeRouterTest, SigmoidBiasChangesChoiceNotWeights) {
  const std::vector<float> logits = {0.0f, 2.0f, -1.0f, 1.0f};
  const Routed unbiased = Sigmoid(logits, {}, 2, 1.0f);
  EXPECT_EQ(unbiased.ids, (std::vector<int32_t>{1, 3}));
  EXPECT_NEAR(unbiased.weights[0], Sig(2) / (Sig(2) + Sig(1)), 1e-7);

  const Routed biased = Sigmoid(logits, {0.0f, 0.0f, 5.0f, 0.0f}, 2, 1.0f);
  EXPECT_EQ(biased.ids, (std::vector<int32_t>{2, 1}));
  EXPECT_NEAR(biased.weights[0], Sig(-1) / (Sig(-1) + Sig(2)), 1e-7);
  EXPECT_NEAR(biased.weights[1], Sig(2) / (Sig(-1) + Sig(2)), 1e-7);

  const Routed scaled = Sigmoid(logits, {0.0f, 0.0f, 5.0f, 0.0f}, 2, 2.5f);
  EXPECT_EQ(scaled.ids, biased.ids);
  EXPECT_NEAR(scaled.weights[0], 2.5 * biased.weights[0], 1e-6);
  EXPECT_NEAR(scaled.weights[1], 2.5 * biased.weights[1], 1e-6);
}

TEST(MoeRouterTest, SigmoidClampsTinyDenominator) {
  const std::vector<float> logits = {-30.0f, -31.0f, -40.0f};
  const Routed r = Sigmoid(logits, {}, 2, 1.0f);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1}));
  EXPECT_NEAR(r.weights[0], Sig(-30) / 6.103515625e-5, 1e-6 * Sig(-30) / 6.103515625e-5);
  EXPECT_NEAR(r.weights[1], Sig(-31) / 6.103515625e-5, 1e-6 * Sig(-31) / 6.103515625e-5);
}

// Sort-based reference in double: ids by descending score, ties to the lower index.
std::vector<int32_t> RefTopK(const std::vector<double>& score, int64_t k) {
  std::vector<int32_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return score[a] > score[b]; });
  order.resize(k);
  return order;
}

struct RandomCase {
  const char* what;
  int64_t n_expert;
  int64_t k;
};

constexpr RandomCase kRandomCases[] = {
    {"qwen3 128 top 8", 128, 8}, {"minimax 256 top 8", 256, 8}, {"5 top 1", 5, 1}, {"7 top 7", 7, 7},
};

TEST(MoeRouterTest, RandomMatchesSortReference) {
  std::mt19937 rng(31);
  // Logits on a coarse grid so exact ties happen often.
  std::uniform_int_distribution<int> grid(-12, 12);
  for (const RandomCase& c : kRandomCases) {
    for (int trial = 0; trial < 50; ++trial) {
      SCOPED_TRACE(testing::Message() << c.what << " trial " << trial);
      std::vector<float> logits(c.n_expert), bias(c.n_expert);
      for (float& x : logits) x = grid(rng) * 0.5f;
      for (float& x : bias) x = grid(rng) * 0.25f;

      std::vector<double> probs(c.n_expert);
      const double m = *std::max_element(logits.begin(), logits.end());
      double z = 0;
      for (int64_t e = 0; e < c.n_expert; ++e) z += (probs[e] = std::exp(logits[e] - m));
      for (double& p : probs) p /= z;
      const std::vector<int32_t> soft_ids = RefTopK(probs, c.k);
      double soft_sum = 0;
      for (int32_t id : soft_ids) soft_sum += probs[id];
      for (bool norm : {false, true}) {
        const Routed r = Softmax(logits, c.k, norm);
        ASSERT_EQ(r.ids, soft_ids);
        for (int64_t i = 0; i < c.k; ++i) {
          const double ref = probs[soft_ids[i]] / (norm ? soft_sum : 1.0);
          ASSERT_NEAR(r.weights[i], ref, 2e-6 * ref) << "norm " << norm;
        }
      }

      std::vector<double> s(c.n_expert), selection(c.n_expert);
      for (int64_t e = 0; e < c.n_expert; ++e) {
        s[e] = Sig(logits[e]);
        selection[e] = s[e] + bias[e];
      }
      const std::vector<int32_t> sig_ids = RefTopK(selection, c.k);
      double sig_sum = 0;
      for (int32_t id : sig_ids) sig_sum += s[id];
      const Routed r = Sigmoid(logits, bias, c.k, 1.5f);
      ASSERT_EQ(r.ids, sig_ids);
      for (int64_t i = 0; i < c.k; ++i) {
        const double ref = 1.5 * s[sig_ids[i]] / sig_sum;
        ASSERT_NEAR(r.weights[i], ref, 2e-6 * ref);
      }
    }
  }
}

}  // namespace
}  // namespace tandem
