#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace tandem {
namespace {

std::vector<float> Logits() { return {1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f}; }

std::map<int32_t, int> Histogram(const SamplingParams& p, int draws) {
  Sampler s(p);
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> l = Logits();
    ++h[s.Sample(l, {})];
  }
  return h;
}

TEST(SamplerTest, GreedyTakesTheArgmaxAndTiesGoToTheLowerId) {
  Sampler s(SamplingParams{});
  std::vector<float> l = Logits();
  EXPECT_EQ(s.Sample(l, {}), 1);
}

TEST(SamplerTest, TemperatureSamplingFollowsTheSoftmax) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 3;
  const int draws = 60000;
  auto h = Histogram(p, draws);
  std::vector<float> l = Logits();
  double z = 0;
  for (float v : l) z += std::exp(v);
  for (int32_t id = 0; id < 6; ++id) {
    double expected = std::exp(l[id]) / z;
    EXPECT_NEAR(h[id] / double{draws}, expected, 4 * std::sqrt(expected * (1 - expected) / draws) + 1e-3) << id;
  }
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDifferent) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.seed = 42;
  Sampler a(p), b(p);
  p.seed = 43;
  Sampler c(p);
  int differ = 0;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> la = Logits(), lb = Logits(), lc = Logits();
    int32_t ta = a.Sample(la, {});
    EXPECT_EQ(ta, b.Sample(lb, {}));
    differ += ta != c.Sample(lc, {});
  }
  EXPECT_GT(differ, 20);
}

TEST(SamplerTest, TopKTopPAndMinPRestrictTheCandidates) {
  struct Case {
    const char* name;
    SamplingParams params;
    std::vector<int32_t> allowed;
  };
  SamplingParams base;
  base.temperature = 1.0f;
  base.seed = 1;
  std::vector<Case> cases;
  SamplingParams k2 = base;
  k2.top_k = 2;
  cases.push_back({"top-k 2", k2, {1, 3}});
  SamplingParams p = base;
  p.top_p = 0.6f;  // 1 and 3 hold 0.33 each: the two together pass 0.6
  cases.push_back({"top-p 0.6", p, {1, 3}});
  SamplingParams m = base;
  m.min_p = 0.3f;  // exp(2 - 3) = 0.37 >= 0.3 keeps id 2; exp(-2) = 0.14 drops id 0
  cases.push_back({"min-p 0.3", m, {1, 2, 3}});
  for (const Case& c : cases) {
    auto h = Histogram(c.params, 3000);
    for (const auto& [id, count] : h) {
      EXPECT_NE(std::find(c.allowed.begin(), c.allowed.end(), id), c.allowed.end()) << c.name << " drew " << id;
    }
    EXPECT_EQ(h.size(), c.allowed.size()) << c.name;
  }
}

TEST(SamplerTest, PenaltiesPushDownSeenTokens) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  Sampler s(p);
  std::vector<float> l = Logits();
  std::vector<int32_t> history = {1, 3};
  EXPECT_EQ(s.Sample(l, history), 2);  // 3 / 2 = 1.5 < 2
  EXPECT_FLOAT_EQ(l[1], 1.5f);
  SamplingParams q;
  q.presence_penalty = 1.5f;
  q.penalty_last_n = 1;  // only the last token (3) counts
  Sampler t(q);
  std::vector<float> l2 = Logits();
  EXPECT_EQ(t.Sample(l2, history), 1);
  EXPECT_FLOAT_EQ(l2[3], 1.5f);
  EXPECT_FLOAT_EQ(l2[1], 3.0f);
}

TEST(SamplerTest, InvalidParametersAreNamed) {
  struct Case {
    SamplingParams params;
    const char* word;
  };
  std::vector<Case> cases(5);
  cases[0].params.temperature = -1;
  cases[0].word = "temperature";
  cases[1].params.top_k = -2;
  cases[1].word = "top-k";
  cases[2].params.top_p = 0;
  cases[2].word = "top-p";
  cases[3].params.min_p = 1;
  cases[3].word = "min-p";
  cases[4].params.repetition_penalty = 0;
  cases[4].word = "repetition";
  for (const Case& c : cases) {
    Status st = ValidateSampling(c.params);
    EXPECT_NE(st.message().find(c.word), std::string::npos) << st.message();
  }
  EXPECT_TRUE(ValidateSampling(SamplingParams{}).ok());
}

}  // namespace
}  // namespace tandem
