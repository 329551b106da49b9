#include "engine/cpu_engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "model/synth/synth_model.h"
#include "synth_options.h"

namespace tandem {
namespace {

// A tiny synthetic model written once for the suite.
class CpuEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SynthOptions o = testing::SmallOptions(Arch::kMiniMaxM2, Recipe::kQ8_0);
    path_ = (std::filesystem::temp_directory_path() / "tandem_cpu_engine_test.gguf").string();
    auto m = SynthModel::Build(o);
    ASSERT_TRUE(m.ok()) << m.status().message();
    ASSERT_TRUE(m->WriteFile(path_, false).ok());
  }
  static void TearDownTestSuite() { std::filesystem::remove(path_); }

  static std::unique_ptr<CpuEngine> Load(int64_t n_ctx) {
    EngineOptions options;
    options.n_ctx = n_ctx;
    options.n_threads = 2;
    auto e = CpuEngine::Load(path_, options);
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(e).value() : nullptr;
  }

  static std::string path_;
};
std::string CpuEngineTest::path_;

TEST_F(CpuEngineTest, LogitsAreFiniteAndBatchEqualsTokenByToken) {
  auto batch = Load(64);
  auto steps = Load(64);
  ASSERT_TRUE(batch && steps);
  std::vector<int32_t> tokens = {11, 2000, 35, 70000, 151000, 9};
  std::vector<float> all, last;
  ASSERT_TRUE(batch->Forward(tokens, true, all).ok());
  ASSERT_EQ(all.size(), tokens.size() * 200064);
  for (float v : all) ASSERT_TRUE(std::isfinite(v));
  for (size_t t = 0; t < tokens.size(); ++t) {
    ASSERT_TRUE(steps->Forward(std::span(tokens).subspan(t, 1), false, last).ok());
    ASSERT_EQ(last.size(), 200064u);
    double max_err = 0, max_abs = 0;
    for (size_t i = 0; i < last.size(); ++i) {
      max_err = std::max(max_err, std::abs(double{last[i]} - all[t * 200064 + i]));
      max_abs = std::max(max_abs, std::abs(double{last[i]}));
    }
    EXPECT_LT(max_err, 1e-4 * max_abs) << "token " << t;
  }
  EXPECT_EQ(steps->n_past(), 6);
}

TEST_F(CpuEngineTest, BadInputIsRejectedWithAMessage) {
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

TEST_F(CpuEngineTest, MissingOrMisshapenModelsAreNamed) {
  auto missing = CpuEngine::Load("/nonexistent/model.gguf", EngineOptions{});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/model.gguf"), std::string::npos);
  auto vocab_only = CpuEngine::Load(TANDEM_SOURCE_DIR "/tests/data/vocab-qwen2.gguf", EngineOptions{});
  ASSERT_FALSE(vocab_only.ok());
  EXPECT_NE(vocab_only.status().message().find("qwen2"), std::string::npos) << vocab_only.status().message();
}

}  // namespace
}  // namespace tandem
