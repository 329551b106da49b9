#include "model/synth/synth_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <vector>

#include "kernels/cpu/quant.h"
#include "model/gguf_model.h"
#include "synth_options.h"

namespace tandem {
namespace {

using testing::RealOptions;
using testing::SmallOptions;

const GgufTensorInfo& Find(const SynthModel& m, const std::string& name) {
  for (const auto& t : m.tensors()) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << "no tensor " << name;
  static GgufTensorInfo none;
  return none;
}

std::vector<float> Dequantized(const SynthModel& m, const std::string& name) {
  const auto& tensors = m.tensors();
  for (size_t k = 0; k < tensors.size(); ++k) {
    if (tensors[k].name != name) continue;
    std::vector<uint8_t> bytes(tensors[k].nbytes);
    EXPECT_TRUE(m.FillTensor(k, bytes).ok());
    std::vector<float> values(static_cast<size_t>(tensors[k].n_elements));
    DequantizeRow(tensors[k].type, bytes.data(), values.data(), tensors[k].n_elements);
    return values;
  }
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

double Rms(std::span<const float> v) {
  double s = 0;
  for (float x : v) s += double{x} * x;
  return std::sqrt(s / static_cast<double>(v.size()));
}

TEST(SynthTest, MiniMaxQ3KXLReadsTheRealFilesBytesPerToken) {
  auto m = SynthModel::Build(RealOptions(Arch::kMiniMaxM2, Recipe::kQ3_K_XL));
  ASSERT_TRUE(m.ok()) << m.status().message();
  double gib = static_cast<double>(m->token_bytes().total()) / (1024.0 * 1024 * 1024);
  EXPECT_NEAR(gib, 4.58, 4.58 * 0.05);
  // router replicated at F32: 62 layers x 3072 x 256 x 4 B
  EXPECT_EQ(m->token_bytes().router, 62ull * (3072 * 256 * 4 + 256 * 4));
}

TEST(SynthTest, RealShapesHaveTheArchitecturesTensors) {
  struct Case {
    Arch arch;
    size_t per_layer;
    int64_t q_norm_len;
    uint32_t n_vocab;
  };
  for (const Case& c : {Case{Arch::kQwen3Moe, 12, 128, 151936}, Case{Arch::kMiniMaxM2, 13, 48 * 128, 200064}}) {
    auto m = SynthModel::Build(RealOptions(c.arch, Recipe::kQ8_0));
    ASSERT_TRUE(m.ok()) << m.status().message();
    const ModelShape& s = m->options().shape;
    EXPECT_EQ(m->tensors().size(), 3 + c.per_layer * s.n_layer);
    EXPECT_EQ(Find(*m, "blk.0.attn_q_norm.weight").ne, std::vector<int64_t>{c.q_norm_len});
    EXPECT_EQ(Find(*m, "output.weight").ne, (std::vector<int64_t>{s.n_embd, c.n_vocab}));
    EXPECT_EQ(Find(*m, "blk.3.ffn_down_exps.weight").ne,
              (std::vector<int64_t>{s.n_ff_exp, s.n_embd, s.n_expert}));
    EXPECT_EQ(Find(*m, "blk.3.ffn_gate_inp.weight").type, GgmlType::F32);
    auto tokens = m->writer().metadata().GetArray("tokenizer.ggml.tokens", GgufValueType::STRING);
    ASSERT_TRUE(tokens.ok());
    EXPECT_EQ((*tokens)->size(), c.n_vocab);
  }
}

TEST(SynthTest, Q4KMGivesMoreBitsToTheLayersLlamaCppDoes) {
  auto m = SynthModel::Build(RealOptions(Arch::kQwen3Moe, Recipe::kQ4_K_M));
  ASSERT_TRUE(m.ok()) << m.status().message();
  // 48 layers: layers < 6, >= 42, and (l - 6) % 3 == 2 get Q6_K attn_v and ffn_down
  std::set<int> expected;
  for (int l = 0; l < 48; ++l) {
    if (l < 6 || l >= 42 || (l - 6) % 3 == 2) expected.insert(l);
  }
  for (int l = 0; l < 48; ++l) {
    GgmlType want = expected.count(l) ? GgmlType::Q6_K : GgmlType::Q4_K;
    EXPECT_EQ(Find(*m, fmt::format("blk.{}.attn_v.weight", l)).type, want) << l;
    EXPECT_EQ(Find(*m, fmt::format("blk.{}.ffn_down_exps.weight", l)).type, want) << l;
    EXPECT_EQ(Find(*m, fmt::format("blk.{}.attn_q.weight", l)).type, GgmlType::Q4_K) << l;
  }
  EXPECT_EQ(Find(*m, "output.weight").type, GgmlType::Q6_K);
}

TEST(SynthTest, RowsThatDoNotFitTheBlocksNameTheFlag) {
  SynthOptions o = SmallOptions(Arch::kQwen3Moe, Recipe::kQ4_K_M);
  o.shape.n_ff_exp = 128;
  auto m = SynthModel::Build(o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("--ff"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("Q"), std::string::npos);
}

TEST(SynthTest, BadShapesAreRejected) {
  SynthOptions o = SmallOptions(Arch::kMiniMaxM2, Recipe::kQ8_0);
  o.shape.n_head_kv = 3;
  EXPECT_FALSE(SynthModel::Build(o).ok());
  o = SmallOptions(Arch::kMiniMaxM2, Recipe::kQ8_0);
  o.shape.n_expert_used = 9;
  EXPECT_FALSE(SynthModel::Build(o).ok());
  o = SmallOptions(Arch::kMiniMaxM2, Recipe::kQ8_0);
  o.shape.n_vocab = 1000;  // smaller than the vocabulary file
  auto m = SynthModel::Build(o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("151936"), std::string::npos) << m.status().message();
  o = SmallOptions(Arch::kMiniMaxM2, Recipe::kQ8_0);
  o.vocab_path = "/nonexistent/vocab.gguf";
  m = SynthModel::Build(o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("/nonexistent/vocab.gguf"), std::string::npos);
}

TEST(SynthTest, WeightsHaveTheRequestedSpreadAndAreDeterministic) {
  SynthOptions o = SmallOptions(Arch::kMiniMaxM2, Recipe::kQ4_K_M);
  auto a = SynthModel::Build(o);
  ASSERT_TRUE(a.ok()) << a.status().message();
  std::vector<float> q = Dequantized(*a, "blk.1.attn_q.weight");
  EXPECT_NEAR(Rms(q), 1.0 / std::sqrt(256.0), 0.15 / std::sqrt(256.0));
  std::vector<float> norm = Dequantized(*a, "blk.1.attn_norm.weight");
  double mean = 0;
  for (float x : norm) mean += x / norm.size();
  EXPECT_NEAR(mean, 1.0, 0.05);
  EXPECT_EQ(q, Dequantized(*a, "blk.1.attn_q.weight"));
  o.seed = 2;
  auto b = SynthModel::Build(o);
  ASSERT_TRUE(b.ok());
  EXPECT_NE(q, Dequantized(*b, "blk.1.attn_q.weight"));
  EXPECT_NE(q, Dequantized(*a, "blk.0.attn_q.weight"));
}

TEST(SynthTest, KOutliersScaleTheChosenChannelsOfEveryKVHead) {
  SynthOptions o = SmallOptions(Arch::kQwen3Moe, Recipe::kF32);
  o.k_outlier_channels = 3;
  o.k_outlier_scale = 10.0f;
  auto m = SynthModel::Build(o);
  ASSERT_TRUE(m.ok());
  std::vector<float> k = Dequantized(*m, "blk.0.attn_k.weight");  // [256, 2 heads x 64] rows of 256
  const int64_t row = 256;
  for (int64_t r = 0; r < 128; ++r) {
    double rms = Rms(std::span<const float>(k.data() + r * row, row));
    bool outlier = r % 64 < 3;
    EXPECT_NEAR(rms, (outlier ? 10.0 : 1.0) / 16.0, (outlier ? 10.0 : 1.0) * 0.25 / 16.0) << "row " << r;
  }
}

TEST(SynthTest, LargeTensorsFillFromAPoolOfValidVariedRows) {
  SynthOptions o = SmallOptions(Arch::kMiniMaxM2, Recipe::kQ3_K_XL);
  o.shape.n_expert = 128;
  o.shape.n_ff_exp = 1024;
  o.shape.n_embd = 512;  // gate_exps: 512 x 1024 x 128 = 64M elements, above the direct limit
  auto m = SynthModel::Build(o);
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::vector<float> w = Dequantized(*m, "blk.0.ffn_gate_exps.weight");
  for (float x : w) ASSERT_TRUE(std::isfinite(x));
  EXPECT_NEAR(Rms(w), 1.0 / std::sqrt(512.0), 0.25 / std::sqrt(512.0));
  std::set<std::vector<float>> distinct;
  for (int r = 0; r < 2000; ++r) distinct.insert(std::vector<float>(w.begin() + r * 512, w.begin() + (r + 1) * 512));
  EXPECT_GT(distinct.size(), 400u);  // rows come from a pool of 512
}

TEST(SynthTest, WrittenFileOpensWithTheSpecialTokensAsControlTokens) {
  auto m = SynthModel::Build(SmallOptions(Arch::kMiniMaxM2, Recipe::kQ8_0));
  ASSERT_TRUE(m.ok());
  auto path = std::filesystem::temp_directory_path() / "tandem_synth_test.gguf";
  ASSERT_TRUE(m->WriteFile(path, false).ok());
  auto model = GgufModel::Open(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  const GgufMetadata& md = model->metadata();
  EXPECT_EQ(*md.GetString("tokenizer.ggml.pre"), "minimax-m2");
  EXPECT_EQ(*md.GetU32("minimax-m2.rope.dimension_count"), 32u);
  EXPECT_EQ(*md.GetU32("minimax-m2.expert_gating_func"), 2u);
  auto tokens = md.GetArray("tokenizer.ggml.tokens", GgufValueType::STRING);
  auto types = md.GetArray("tokenizer.ggml.token_type", GgufValueType::INT32);
  ASSERT_TRUE(tokens.ok() && types.ok());
  uint32_t bos = *md.GetU32("tokenizer.ggml.bos_token_id");
  uint32_t eos = *md.GetU32("tokenizer.ggml.eos_token_id");
  EXPECT_EQ((*tokens)->strings[bos], "]~!b[");
  EXPECT_EQ((*tokens)->strings[eos], "[e~[");
  for (std::string_view special : {"]~b]", "<think>", "</think>", "<minimax:tool_call>", "</minimax:tool_call>"}) {
    auto it = std::find((*tokens)->strings.begin(), (*tokens)->strings.end(), special);
    ASSERT_NE(it, (*tokens)->strings.end()) << special;
    EXPECT_EQ((*types)->ints[it - (*tokens)->strings.begin()], 3) << special;
  }
  EXPECT_NE(md.GetString("tokenizer.chat_template")->find("]~b]"), std::string::npos);
  EXPECT_EQ(model->file_bytes(), m->writer().file_bytes());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tandem
