// Splits a model over N ranks (engine/shard.h) and says what each rank holds and reads.
// KV heads go out as evenly as whole GQA groups allow (8 on 3 ranks: 3/3/2); each
// expert's FFN rows are cut on the down projection's quant blocks as evenly as they
// allow (Qwen3-30B's 768 = 3 blocks of 256 on 2 ranks: 512/256); the vocabulary evenly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model_weights.h"
#include "engine/shard.h"
#include "model/hparams.h"

namespace tandem {

// What one rank of a plan holds and reads.
struct RankLoad {
  uint64_t weight_bytes = 0;     // held: its slices plus the replicated tensors
  uint64_t token_bytes = 0;      // read per decoded token at batch 1 (top-k experts)
  uint64_t replicated_token_bytes = 0;  // of token_bytes: router, norms, embedding row
};

struct PlannedShards {
  ShardPlan plan;
  std::vector<RankLoad> loads;  // [n_ranks]
};

Expected<PlannedShards> PlanShards(const ModelConfig& config, const ModelWeights& weights, int n_ranks);

// What `shard` holds and reads of the model `weights` (the whole model's).
Expected<RankLoad> MeasureShard(const ModelConfig& config, const ModelWeights& weights, const Shard& shard);

// The plan as text: one line per rank with its heads, FFN rows, vocab rows, weights held
// and bytes read per token, then the slowest rank against one rank's whole model.
std::string DescribePlan(const ModelConfig& config, const PlannedShards& planned, uint64_t whole_token_bytes);

}  // namespace tandem
