// `tandem bench decode`'s numbers: the decode step's collectives counted exactly, bytes
// per token from the planner, a roofline measured; synthetic specs parsed or refused.
#include "bench/decode/decode_bench.h"

#include <gtest/gtest.h>

#include <map>

#include "bench/decode/synthetic_spec.h"
#include "sharding_models.h"

namespace tandem::bench {
namespace {

TEST(BenchDecodeTest, CountsTheStepsCollectivesAndBytes) {
  for (Arch arch : {Arch::kQwen3Moe, Arch::kMiniMaxM2}) {
    DecodeBenchOptions o;
    o.model_path = testing::ModelPath(arch, Recipe::kQ8_0);
    o.engine.n_threads = 2;
    o.engine.n_ctx = 64;
    o.ranks = 2;
    o.depth = 5;
    o.tokens = 6;
    auto r = RunDecodeBench(o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_GT(r->decode_tok_s, 0);
    EXPECT_GT(r->weight_bytes_per_token, 0);
    EXPECT_GT(r->kv_bytes_per_token, 0);
    EXPECT_GT(r->roofline_gb_s, 0) << r->roofline_what;
    // Per decode step: 2 all-reduces per layer (a third for minimax-m2's q/k norm), the
    // sampling summaries' gather and the leader's word.
    const double per_layer = arch == Arch::kMiniMaxM2 ? 3 : 2;
    EXPECT_DOUBLE_EQ(r->collectives_per_token, per_layer * 2 + 2) << ArchName(arch);
    EXPECT_NE(FormatDecodeResult(*r).find("tok/s"), std::string::npos);
    EXPECT_NE(DecodeCsvRow(*r).find(std::string(ArchName(arch))), std::string::npos);
  }
  DecodeBenchOptions bad;
  bad.model_path = testing::ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0);
  bad.tokens = 1;
  EXPECT_FALSE(RunDecodeBench(bad).ok());
}

// --profile: rank 0's time per op; the products counted exactly per decode step (q, k, v,
// o and the router per layer, the LM head; the experts' products are inside moe_experts).
TEST(BenchDecodeTest, ProfilesEveryOp) {
  DecodeBenchOptions o;
  o.model_path = testing::ModelPath(Arch::kMiniMaxM2, Recipe::kQ8_0);
  o.engine.n_threads = 2;
  o.depth = 7;
  o.tokens = 4;
  o.profile = true;
  auto r = RunDecodeBench(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::map<std::string, OpTime> ops;
  for (const OpTime& t : r->op_times) ops[t.op] = t;
  for (const char* op : {"embed", "rms_norm", "matmul", "rope", "store_kv", "attention", "route", "moe_experts"}) {
    ASSERT_TRUE(ops.count(op)) << op;
    EXPECT_GT(ops[op].seconds, 0) << op;
  }
  const int64_t layers = r->layers, per_step = 5 * layers + 1;
  EXPECT_EQ(ops["matmul"].calls % per_step, 0) << ops["matmul"].calls;
  EXPECT_EQ(ops["matmul"].calls / per_step, ops["attention"].calls / layers);
  EXPECT_NE(FormatDecodeResult(*r).find("ops of rank 0"), std::string::npos);
}

TEST(BenchDecodeTest, SyntheticSpecs) {
  const std::string vocab = TANDEM_SOURCE_DIR "/tests/data/vocab-qwen2.gguf";
  auto q = ParseSyntheticSpec("qwen3moe-30b:q4_k_m:layers=4", vocab);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->shape.n_layer, 4u);
  EXPECT_EQ(q->shape.n_embd, 2048u);
  EXPECT_EQ(q->recipe, Recipe::kQ4_K_M);
  auto m = ParseSyntheticSpec("minimax-m2", vocab);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->recipe, Recipe::kQ3_K_XL);
  EXPECT_EQ(m->shape.n_layer, 62u);
  EXPECT_FALSE(ParseSyntheticSpec("llama:q4_k_m", vocab).ok());
  EXPECT_FALSE(ParseSyntheticSpec("qwen3moe:layers=0", vocab).ok());
  auto unknown = ParseSyntheticSpec("qwen3moe:heads=3", vocab);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("heads"), std::string::npos);
}

}  // namespace
}  // namespace tandem::bench
