// Splits a model over N ranks (engine/shard.h) and says what each rank holds and reads.
// KV heads go out as evenly as whole GQA groups allow (8 on 3 ranks: 3/3/2); the
// vocabulary evenly. The MoE is split one of two ways:
// - expert-TP: each expert's FFN rows cut on the down projection's quant blocks as
//   evenly as they allow (Qwen3-30B's 768 = 3 blocks of 256 on 2 ranks: 512/256);
//   every rank does the same work for any routing;
// - expert-parallel (EP): whole experts per rank; at batch 1 the k routed experts fall
//   unevenly on the ranks, and the slowest rank sets the pace of each layer.
// Ranks wait for each other at every layer's all-reduce, so a plan's cost is the sum
// over layers of its slowest rank's bytes (expected over routings for EP); `auto`
// takes the cheaper split and says why.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/model_weights.h"
#include "kernels/cpu/attention.h"
#include "engine/shard.h"
#include "model/hparams.h"

namespace tandem {

enum class MoeSplit { kAuto, kExpertTp, kExpertParallel };
std::string_view MoeSplitName(MoeSplit split);  // "auto", "tp", "ep"
Expected<MoeSplit> ParseMoeSplit(std::string_view name);

// What one rank of a plan holds and reads.
struct RankLoad {
  uint64_t weight_bytes = 0;            // held: its slices plus the replicated tensors
  double token_bytes = 0;               // read per decoded token at batch 1 (EP: expected)
  uint64_t replicated_token_bytes = 0;  // of token_bytes: router, norms, embedding row
};

struct PlannedShards {
  ShardPlan plan;
  MoeSplit split = MoeSplit::kExpertTp;  // the one taken (never kAuto)
  std::vector<RankLoad> loads;           // [n_ranks]
  double step_token_bytes = 0;           // per token, summed over layers of the slowest rank's
  std::string why;                       // how the split was chosen
};

Expected<PlannedShards> PlanShards(const ModelConfig& config, const ModelWeights& weights, int n_ranks,
                                   MoeSplit split = MoeSplit::kAuto);

// What `shard` holds and reads of the model `weights` (the whole model's).
Expected<RankLoad> MeasureShard(const ModelConfig& config, const ModelWeights& weights, const Shard& shard);

// "KV heads 0-3 (q heads 24), FFN rows 0-767 of 1536, vocab 0-100031" (or "experts 0-127 of 256").
std::string ShardSummary(const Shard& shard, const ModelShape& shape);

// Bytes of `shard`'s KV cache for n_ctx positions.
uint64_t KvCacheBytes(const ModelShape& shape, const Shard& shard, int64_t n_ctx, KvStorage storage);

// Whether rank `rank` of the plan fits in `memory_bytes` on `node` (its weights plus its
// KV cache of n_seq sequences of n_ctx positions); the error says what does not fit and
// how to make it: a shorter context, fewer parallel sequences, more nodes, or a smaller
// quantization.
Status CheckShardFits(const PlannedShards& planned, const ModelShape& shape, int rank, int64_t n_ctx, int64_t n_seq,
                      KvStorage storage, uint64_t memory_bytes, std::string_view node);

// The plan as text: one line per rank with its heads, experts or FFN rows, vocab rows,
// weights held and bytes read per token, then the step against one rank's whole model.
std::string DescribePlan(const ModelConfig& config, const PlannedShards& planned, uint64_t whole_token_bytes);

}  // namespace tandem
