// The part of every layer one rank computes (tensor parallelism):
// - attention: a contiguous run of KV heads and the query heads of their GQA groups
//   (Q/K/V rows, o_proj columns, KV cache for those heads only);
// - MoE, expert-TP (the default): the same run of FFN rows of every expert (gate/up
//   rows, down columns), cut on the down projection's quant blocks; or expert-parallel
//   (EP): a run of whole experts;
// - LM head: a contiguous slice of the vocabulary.
// Embeddings, norms and the router are replicated. Partial attention and MoE outputs are
// summed by an all-reduce; MiniMax-M2's whole-projection q/k norm all-reduces its sums of
// squares.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "engine/model_weights.h"
#include "model/hparams.h"

namespace tandem {

struct Shard {
  int rank = 0;
  int n_ranks = 1;
  int64_t kv_head_begin = 0, n_kv_head = 0;  // KV heads [begin, begin + n)
  int64_t expert_begin = 0, n_expert = 0;    // experts [begin, begin + n): all under expert-TP
  int64_t ff_begin = 0, n_ff = 0;            // rows of each expert's FFN [begin, begin + n): all under EP
  int64_t vocab_begin = 0, n_vocab = 0;      // LM head rows [begin, begin + n)

  int64_t n_head(const ModelShape& s) const { return n_kv_head * (s.n_head / s.n_head_kv); }
  int64_t head_begin(const ModelShape& s) const { return kv_head_begin * (s.n_head / s.n_head_kv); }
};

// One Shard per rank, in rank order.
using ShardPlan = std::vector<Shard>;

// The whole model on one rank.
ShardPlan WholeModel(const ModelShape& shape);

// Checks that `plan` covers every KV head, vocab row and (expert, FFN row) pair exactly
// once, in rank order, with matching rank numbers; the MoE split is expert-TP (every rank
// all experts) or EP (every rank all FFN rows).
Status CheckPlan(const ShardPlan& plan, const ModelShape& shape);

// `shard`'s views of the full model's weights; errors name the tensor and the split
// that does not fall on its quant blocks.
Expected<ModelWeights> SliceWeights(const ModelWeights& full, const ModelConfig& config, const Shard& shard);

}  // namespace tandem
