// The shard planner: splits, the MoE split it chooses and why, and the memory check.
#include "coordinator/shard_planner.h"

#include <gtest/gtest.h>

#include "sharding_models.h"

namespace tandem {
namespace {

struct Loaded {
  GgufModel model;
  ModelConfig config;
  ModelWeights weights;
};

Loaded Load(Arch arch, Recipe recipe) {
  Loaded l;
  auto model = GgufModel::Open(testing::ModelPath(arch, recipe));
  EXPECT_TRUE(model.ok()) << model.status().message();
  l.model = std::move(model).value();
  l.config = ReadModelConfig(l.model.metadata(), 0).value();
  l.weights = ModelWeights::Bind(l.model, l.config).value();
  return l;
}

TEST(ShardPlannerTest, HeadsExpertsAndVocabSplitAsEvenlyAsBlocksAllow) {
  Loaded l = Load(Arch::kMiniMaxM2, Recipe::kQ4_K_M);
  auto tp = PlanShards(l.config, l.weights, 3, MoeSplit::kExpertTp);
  ASSERT_TRUE(tp.ok()) << tp.status().message();
  EXPECT_EQ(tp->plan[0].n_kv_head, 2);  // 4 KV heads: 2/1/1
  EXPECT_EQ(tp->plan[2].n_kv_head, 1);
  EXPECT_EQ(tp->plan[1].n_ff, 256);  // 768 rows = 3 blocks of 256
  EXPECT_EQ(tp->plan[1].ff_begin, 256);
  EXPECT_EQ(tp->plan[2].vocab_begin + tp->plan[2].n_vocab, 200064);
  auto ep = PlanShards(l.config, l.weights, 3, MoeSplit::kExpertParallel);
  ASSERT_TRUE(ep.ok()) << ep.status().message();
  EXPECT_EQ(ep->plan[0].n_expert, 3);  // 8 experts: 3/3/2
  EXPECT_EQ(ep->plan[2].expert_begin, 6);
  EXPECT_EQ(ep->plan[2].n_ff, 768);
  // At batch 1 the 2 routed experts often land on one rank: EP's slowest rank reads more
  // than expert-TP's, whose ranks always share the work.
  EXPECT_GT(ep->step_token_bytes, tp->step_token_bytes);
  auto chosen = PlanShards(l.config, l.weights, 3);
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->split, MoeSplit::kExpertTp);
  EXPECT_NE(chosen->why.find("routing imbalance"), std::string::npos) << chosen->why;
  EXPECT_NE(ShardSummary(ep->plan[1], l.config.shape).find("experts 3-5 of 8"), std::string::npos);
}

TEST(ShardPlannerTest, ShardsThatDoNotFitSayWhatWould) {
  Loaded l = Load(Arch::kQwen3Moe, Recipe::kQ8_0);
  auto planned = PlanShards(l.config, l.weights, 2);
  ASSERT_TRUE(planned.ok()) << planned.status().message();
  const ModelShape& s = l.config.shape;
  const uint64_t weights = planned->loads[1].weight_bytes;
  const uint64_t kv = KvCacheBytes(s, planned->plan[1], 4096, KvStorage::kF16);
  EXPECT_EQ(kv, 2ull * s.n_layer * 4096 * planned->plan[1].n_kv_head * s.head_dim * 2);
  EXPECT_TRUE(CheckShardFits(*planned, s, 1, 4096, 1, KvStorage::kF16, weights + kv, "node-b").ok());
  Status short_of_kv = CheckShardFits(*planned, s, 1, 4096, 1, KvStorage::kF16, weights + kv / 2, "node-b");
  ASSERT_FALSE(short_of_kv.ok());
  EXPECT_NE(short_of_kv.message().find("node-b"), std::string::npos) << short_of_kv.message();
  EXPECT_NE(short_of_kv.message().find("at most 2048 positions (--ctx)"), std::string::npos) << short_of_kv.message();
  Status short_of_weights = CheckShardFits(*planned, s, 1, 4096, 1, KvStorage::kF16, weights / 2, "node-b");
  ASSERT_FALSE(short_of_weights.ok());
  EXPECT_NE(short_of_weights.message().find("more nodes or a smaller quantization"), std::string::npos)
      << short_of_weights.message();
  // Parallel sequences each hold a cache of the context's length.
  EXPECT_TRUE(CheckShardFits(*planned, s, 1, 4096, 4, KvStorage::kF16, weights + 4 * kv, "node-b").ok());
  Status short_for_4 = CheckShardFits(*planned, s, 1, 4096, 4, KvStorage::kF16, weights + 2 * kv, "node-b");
  ASSERT_FALSE(short_for_4.ok());
  EXPECT_NE(short_for_4.message().find("4 sequences x 4096 positions"), std::string::npos) << short_for_4.message();
  EXPECT_NE(short_for_4.message().find("at most 2048 positions (--ctx), fewer parallel sequences (--parallel)"),
            std::string::npos)
      << short_for_4.message();
}

}  // namespace
}  // namespace tandem
