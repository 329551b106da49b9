#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <random>
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

// The vocabulary cut into slices as ranks hold it: sampling from the slices' summaries
// (or from the whole vocabulary when they cannot decide) draws the same tokens as one
// sampler holding everything, for every kind of sampling. Also checks the wire format.
TEST(SamplerTest, SlicedVocabularySamplesLikeTheWhole) {
  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(3000);
  for (float& l : logits) l = normal(gen);
  logits[1234] = logits[77];  // a tie across slices
  std::vector<SamplingParams> kinds(6);
  kinds[1].temperature = 0.7f;
  kinds[1].top_k = 40;
  kinds[2].temperature = 1.0f;
  kinds[2].top_p = 0.3f;
  kinds[3].temperature = 1.0f;
  kinds[3].min_p = 0.2f;
  kinds[4].temperature = 1.3f;  // pure temperature: needs the whole vocabulary
  kinds[5].temperature = 0.9f;
  kinds[5].top_k = 20;
  kinds[5].top_p = 0.9f;
  kinds[5].min_p = 0.05f;
  int undecided = 0;
  for (const SamplingParams& params : kinds) {
    for (int slices : {1, 2, 3}) {
      SamplingParams p = params;
      p.seed = 17;
      Sampler whole(p), sliced(p);
      for (int step = 0; step < 50; ++step) {
        const int32_t want = whole.SampleWhole(logits);
        std::vector<SliceSummary> summaries;
        const int64_t per = static_cast<int64_t>(logits.size()) / slices;
        for (int r = 0; r < slices; ++r) {
          const int64_t begin = r * per, n = r + 1 == slices ? static_cast<int64_t>(logits.size()) - begin : per;
          std::vector<float> packed(static_cast<size_t>(PackedSummaryFloats(p)));
          PackSummary(Summarize(p, std::span(logits).subspan(begin, n), begin), packed);
          summaries.push_back(UnpackSummary(packed));
        }
        std::optional<int32_t> got = sliced.SampleFromSummaries(summaries);
        if (!got) {
          ++undecided;
          got = sliced.SampleWhole(logits);
        }
        ASSERT_EQ(*got, want) << "temperature " << p.temperature << " top-k " << p.top_k << " top-p " << p.top_p
                              << " min-p " << p.min_p << ", " << slices << " slices, step " << step;
      }
    }
  }
  EXPECT_GT(undecided, 0);  // pure temperature sampling went to the whole vocabulary
}

}  // namespace
}  // namespace tandem
