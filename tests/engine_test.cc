#include "engine/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <unistd.h>

#include <filesystem>

#include "engine/backend_factory.h"
#include "engine/generate.h"
#include "engine/sequence_batch.h"
#include "model/synth/synth_model.h"
#include "synth_options.h"

namespace tandem {
namespace {

// A tiny synthetic model written once for the suite.
class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SynthOptions o = testing::SmallOptions(Arch::kMiniMaxM2, Recipe::kQ8_0);
    path_ = (std::filesystem::temp_directory_path() / fmt::format("tandem_engine_test_{}.gguf", getpid())).string();
    auto m = SynthModel::Build(o);
    ASSERT_TRUE(m.ok()) << m.status().message();
    ASSERT_TRUE(m->WriteFile(path_, false).ok());
  }
  static void TearDownTestSuite() { std::filesystem::remove(path_); }

  static std::unique_ptr<Engine> Load(int64_t n_ctx, int64_t n_batch = 256, int64_t n_seq = 1) {
    EngineOptions options;
    options.n_ctx = n_ctx;
    options.n_batch = n_batch;
    options.n_seq = n_seq;
    options.n_threads = 2;
    auto e = Engine::Load(path_, options);
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(e).value() : nullptr;
  }

  static std::string path_;
};
std::string EngineTest::path_;

// Largest |a - b| over a's elements, relative to the largest |a|.
double RelativeMaxError(std::span<const float> a, std::span<const float> b) {
  double max_err = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_err = std::max(max_err, std::abs(double{a[i]} - b[i]));
    max_abs = std::max(max_abs, std::abs(double{a[i]}));
  }
  return max_err / max_abs;
}

// Ten tokens: more than the LM head's rows per product when all logits are asked.
const std::vector<int32_t> kTokens = {11, 2000, 35, 70000, 151000, 9, 400, 12345, 77, 5};

TEST_F(EngineTest, LogitsAreFiniteAndBatchEqualsTokenByToken) {
  auto batch = Load(64);
  auto steps = Load(64);
  ASSERT_TRUE(batch && steps);
  const std::vector<int32_t>& tokens = kTokens;
  std::vector<float> all, last;
  ASSERT_TRUE(batch->Forward(tokens, true, all).ok());
  ASSERT_EQ(all.size(), tokens.size() * 200064);
  for (float v : all) ASSERT_TRUE(std::isfinite(v));
  for (size_t t = 0; t < tokens.size(); ++t) {
    ASSERT_TRUE(steps->Forward(std::span(tokens).subspan(t, 1), false, last).ok());
    ASSERT_EQ(last.size(), 200064u);
    EXPECT_LT(RelativeMaxError(last, std::span(all).subspan(t * 200064, 200064)), 1e-4) << "token " << t;
  }
  EXPECT_EQ(steps->n_past(), 10);
}

// A prompt longer than the batch runs in chunks with the same result.
TEST_F(EngineTest, ChunkedPromptEqualsOneBatch) {
  auto whole = Load(64);
  auto chunked = Load(64, 4);
  ASSERT_TRUE(whole && chunked);
  std::vector<float> a, b, last;
  ASSERT_TRUE(whole->Forward(kTokens, true, a).ok());
  ASSERT_TRUE(chunked->Forward(kTokens, true, b).ok());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LT(RelativeMaxError(a, b), 1e-5);
  auto last_only = Load(64, 4);
  ASSERT_TRUE(last_only->Forward(kTokens, false, last).ok());
  ASSERT_EQ(last.size(), 200064u);
  EXPECT_LT(RelativeMaxError(last, std::span(a).subspan(9 * 200064)), 1e-5);
  EXPECT_EQ(chunked->n_past(), 10);
}

TEST_F(EngineTest, BadInputIsRejectedWithAMessage) {
  auto e = Load(4);
  ASSERT_TRUE(e);
  std::vector<float> logits;
  std::vector<int32_t> too_long = {1, 2, 3, 4, 5};
  Status st = e->Forward(too_long, false, logits);
  EXPECT_NE(st.message().find("context full"), std::string::npos) << st.message();
  std::vector<int32_t> bad_id = {1, 300000};
  st = e->Forward(bad_id, false, logits);
  EXPECT_NE(st.message().find("300000"), std::string::npos) << st.message();
  EXPECT_FALSE(e->Forward({}, false, logits).ok());
  EXPECT_EQ(e->n_past(), 0);
}

// Three sequences with prompts of different lengths, then decode steps of all three at
// once (rows in an order that is not the slots'): every row's logits equal those of its
// sequence run alone on a one-sequence engine, and the cache of one sequence never
// leaks into another's.
TEST_F(EngineTest, BatchedDecodeEqualsEachSequenceAlone) {
  const std::vector<std::vector<int32_t>> prompts = {{11, 2000, 35}, {70000, 151000, 9, 400, 12345}, {77}};
  const std::vector<int64_t> row_seq = {2, 0, 1};  // row r decodes sequence row_seq[r]
  const std::vector<std::vector<int32_t>> next = {{5, 6, 7}, {600, 601, 602}, {90000, 90001, 90002}};  // per step
  auto batched = Load(32, 256, 3);
  ASSERT_TRUE(batched);
  EXPECT_EQ(batched->n_seq(), 3);
  for (int64_t s = 0; s < 3; ++s) ASSERT_TRUE(batched->Step(prompts[s], s).ok());
  std::vector<std::vector<float>> got(3);  // [step][row * n_vocab]
  for (size_t step = 0; step < next.size(); ++step) {
    std::vector<SeqToken> rows;
    for (size_t r = 0; r < row_seq.size(); ++r) rows.push_back({row_seq[r], next[step][r]});
    ASSERT_TRUE(batched->StepBatch(rows).ok());
    for (size_t r = 0; r < rows.size(); ++r) {
      std::vector<float> row;
      ASSERT_TRUE(batched->DownloadLogits(row, static_cast<int64_t>(r)).ok());
      got[step].insert(got[step].end(), row.begin(), row.end());
    }
  }
  for (size_t r = 0; r < row_seq.size(); ++r) {
    const int64_t s = row_seq[r];
    EXPECT_EQ(batched->n_past(s), static_cast<int64_t>(prompts[s].size() + next.size()));
    auto alone = Load(32);
    ASSERT_TRUE(alone);
    std::vector<float> want;
    ASSERT_TRUE(alone->Forward(prompts[s], false, want).ok());
    for (size_t step = 0; step < next.size(); ++step) {
      ASSERT_TRUE(alone->Forward(std::span(&next[step][r], 1), false, want).ok());
      const std::span<const float> row = std::span(got[step]).subspan(r * want.size(), want.size());
      EXPECT_LT(RelativeMaxError(want, row), 1e-5) << "sequence " << s << ", step " << step;
    }
  }
}

TEST_F(EngineTest, BadBatchedStepsAreRejectedWithAMessage) {
  auto e = Load(4, 256, 2);
  ASSERT_TRUE(e);
  const std::vector<SeqToken> twice = {{1, 5}, {1, 6}};
  EXPECT_NE(e->StepBatch(twice).message().find("twice"), std::string::npos);
  const std::vector<SeqToken> outside = {{2, 5}};
  EXPECT_NE(e->StepBatch(outside).message().find("sequence 2"), std::string::npos);
  EXPECT_NE(e->StepBatch({}).message().find("0 rows"), std::string::npos);
  const std::vector<SeqToken> nine(9, SeqToken{0, 1});
  EXPECT_NE(e->StepBatch(nine).message().find("9 rows"), std::string::npos);
  const std::vector<int32_t> full = {1, 2, 3, 4};
  ASSERT_TRUE(e->Step(full, 1).ok());
  const std::vector<SeqToken> past_end = {{0, 5}, {1, 5}};
  EXPECT_NE(e->StepBatch(past_end).message().find("context full"), std::string::npos);
  EXPECT_EQ(e->n_past(0), 0);
  EXPECT_EQ(e->n_past(1), 4);
  auto zero = Engine::Load(path_, EngineOptions{.n_ctx = 8, .n_seq = 0});
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("parallel sequences"), std::string::npos) << zero.status().message();
}

// A request with a long prompt joins a batch in flight: its prompt runs a chunk per
// iteration while the other sequence keeps decoding, and both get the tokens they get
// alone.
TEST_F(EngineTest, LongPromptsJoinInChunksWithoutStallingTheBatch) {
  const std::vector<int32_t> short_prompt = {11, 2000, 35};
  std::vector<int32_t> long_prompt = kTokens;  // 13 tokens: 4 chunks of 4
  long_prompt.insert(long_prompt.end(), {600, 601, 602});
  SamplingParams greedy;
  auto alone = [&](const std::vector<int32_t>& prompt, int64_t n) {
    auto e = Load(64);
    std::vector<int32_t> tokens;
    EXPECT_TRUE(Generate(*e, prompt, n, greedy, {}, [&](int32_t t) {
                  tokens.push_back(t);
                  return true;
                }).ok());
    return tokens;
  };
  const std::vector<int32_t> want_a = alone(short_prompt, 12), want_b = alone(long_prompt, 5);

  auto e = Load(64, 256, 2);
  ASSERT_TRUE(e);
  SequenceBatch batch(*e, /*prefill_chunk=*/4);
  std::vector<int32_t> got_a, got_b;
  size_t a_before_b = 0;  // A's tokens when B's first came
  SequenceRequest a = SequenceRequest::Of(short_prompt, 12, greedy, {}, [&](int32_t t) {
    got_a.push_back(t);
    return true;
  });
  SequenceRequest b = SequenceRequest::Of(long_prompt, 5, greedy, {}, [&](int32_t t) {
    if (got_b.empty()) a_before_b = got_a.size();
    got_b.push_back(t);
    return true;
  });
  std::vector<SequenceRequest> first, second;
  first.push_back(std::move(a));
  second.push_back(std::move(b));
  ASSERT_TRUE(batch.Lead(std::move(first), /*more_may_join=*/true).ok());
  ASSERT_EQ(got_a.size(), 2u);  // its first token from the prompt, the second from the step
  ASSERT_TRUE(batch.accepts_joining());
  ASSERT_TRUE(batch.Lead(std::move(second)).ok());
  while (batch.in_flight() > 0) ASSERT_TRUE(batch.Lead({}).ok());
  EXPECT_EQ(got_a, want_a);
  EXPECT_EQ(got_b, want_b);
  EXPECT_EQ(a_before_b, 5u) << "A decoded once in each of the 3 iterations B's first 3 chunks took";
}

TEST_F(EngineTest, MissingOrMisshapenModelsAreNamed) {
  auto missing = Engine::Load("/nonexistent/model.gguf", EngineOptions{});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/model.gguf"), std::string::npos);
  auto vocab_only = Engine::Load(TANDEM_SOURCE_DIR "/tests/data/vocab-qwen2.gguf", EngineOptions{});
  ASSERT_FALSE(vocab_only.ok());
  EXPECT_NE(vocab_only.status().message().find("qwen2"), std::string::npos) << vocab_only.status().message();
}

// One rank whose calls return at once and whose results a test can declare lost, like an
// NCCL group aborted while its kernels ran (Collective::health).
class BreakableCollective final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Status AllReduceSum(float*, int64_t) override { return Status::Ok(); }
  Status Broadcast(void*, uint64_t, int) override { return Status::Ok(); }
  Status Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) override {
    return solo_.Gather(send, counts, recv, root);
  }
  void Abort() override { broken_ = true; }
  Status health() override { return broken_ ? Status::Unavailable("a peer died during the step") : Status::Ok(); }

 private:
  SoloCollective solo_;
  bool broken_ = false;
};

// A step whose collectives broke after they were issued gives no logits or summaries:
// they were computed from whatever the aborted collectives left in the buffers.
TEST_F(EngineTest, AStepWhoseCollectiveBrokeGivesNoResults) {
  auto model = GgufModel::Open(path_);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto config = ReadModelConfig(model->metadata(), 0);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EngineOptions options;
  options.n_ctx = 16;
  options.n_threads = 2;
  auto backend = MakeBackend(options, options.n_threads);
  ASSERT_TRUE(backend.ok()) << backend.status().message();
  auto collective = std::make_unique<BreakableCollective>();
  BreakableCollective* raw = collective.get();
  auto engine = Engine::Create(std::move(model).value(), std::move(backend).value(), std::move(collective),
                               WholeModel(config->shape), options);
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  Engine& e = **engine;
  ASSERT_TRUE(e.Step(std::span(kTokens).first(3)).ok());
  std::vector<float> logits;
  ASSERT_TRUE(e.SummarizeLogits(SamplingParams{}, {}).ok());
  ASSERT_TRUE(e.DownloadLogits(logits).ok());

  ASSERT_TRUE(e.Step(std::span(kTokens).subspan(3, 1)).ok());  // issued, then the group breaks
  raw->Abort();
  auto summary = e.SummarizeLogits(SamplingParams{}, {});
  ASSERT_FALSE(summary.ok());
  EXPECT_TRUE(summary.status().unavailable());
  EXPECT_NE(summary.status().message().find("a peer died"), std::string::npos) << summary.status().message();
  EXPECT_FALSE(e.DownloadLogits(logits).ok());
  EXPECT_FALSE(e.Forward(std::span(kTokens).subspan(4, 1), false, logits).ok());
}

}  // namespace
}  // namespace tandem
