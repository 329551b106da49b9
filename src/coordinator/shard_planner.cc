#include "coordinator/shard_planner.h"

#include <algorithm>

#include <fmt/format.h>

namespace tandem {
namespace {

// `n` units over `ranks`: the first n % ranks ranks get one more.
std::vector<int64_t> EvenSplit(int64_t n, int ranks) {
  std::vector<int64_t> out(static_cast<size_t>(ranks), n / ranks);
  for (int64_t r = 0; r < n % ranks; ++r) ++out[r];
  return out;
}

uint64_t MatrixBytes(const WeightMatrix& w) { return w.row_bytes() * static_cast<uint64_t>(w.rows); }

uint64_t VectorBytes(const WeightVector& v) { return static_cast<uint64_t>(v.n) * sizeof(float); }

std::string Gib(uint64_t bytes) { return fmt::format("{:.3f} GiB", static_cast<double>(bytes) / (1ull << 30)); }

}  // namespace

Expected<PlannedShards> PlanShards(const ModelConfig& config, const ModelWeights& weights, int n_ranks) {
  const ModelShape& s = config.shape;
  if (n_ranks < 1) return Status::Error("a plan needs at least one rank, not {}", n_ranks);
  if (n_ranks > static_cast<int>(s.n_head_kv)) {
    return Status::Error("{} KV heads cannot be split over {} ranks: use at most {} ranks", s.n_head_kv, n_ranks,
                         s.n_head_kv);
  }
  const GgmlType down_type = weights.layers.empty() ? GgmlType::F32 : weights.layers[0].down_exps.first.type;
  const int64_t block = TypeInfo(down_type).block_size;
  const int64_t ff_blocks = s.n_ff_exp / block;
  if (ff_blocks < n_ranks) {
    return Status::Error(
        "each expert's FFN of {} rows is {} block(s) of {} for its {} down projection, too few for {} ranks: use at "
        "most {} ranks",
        s.n_ff_exp, ff_blocks, block, TypeName(down_type), n_ranks, ff_blocks);
  }
  const std::vector<int64_t> kv = EvenSplit(s.n_head_kv, n_ranks);
  const std::vector<int64_t> ff = EvenSplit(ff_blocks, n_ranks);
  const std::vector<int64_t> vocab = EvenSplit(s.n_vocab, n_ranks);
  PlannedShards out;
  Shard next;
  next.n_ranks = n_ranks;
  for (int r = 0; r < n_ranks; ++r) {
    next.rank = r;
    next.n_kv_head = kv[r];
    next.n_ff = ff[r] * block;
    next.n_vocab = vocab[r];
    out.plan.push_back(next);
    next.kv_head_begin += next.n_kv_head;
    next.ff_begin += next.n_ff;
    next.vocab_begin += next.n_vocab;
  }
  TANDEM_TRY(CheckPlan(out.plan, s));
  for (const Shard& shard : out.plan) {
    // Slicing checks that every cut falls on the quant blocks of its tensor.
    TANDEM_ASSIGN_OR_RETURN(RankLoad load, MeasureShard(config, weights, shard));
    out.loads.push_back(load);
  }
  return out;
}

Expected<RankLoad> MeasureShard(const ModelConfig& config, const ModelWeights& full, const Shard& shard) {
  const ModelShape& s = config.shape;
  TANDEM_ASSIGN_OR_RETURN(const ModelWeights w, SliceWeights(full, config, shard));
  RankLoad load;
  uint64_t replicated_read = full.token_embd.row_bytes() + VectorBytes(w.output_norm);
  uint64_t split_read = MatrixBytes(w.output);
  load.weight_bytes = MatrixBytes(full.token_embd) + VectorBytes(w.output_norm) +
                      (full.output.data == full.token_embd.data ? 0 : MatrixBytes(w.output));
  for (const LayerWeights& l : w.layers) {
    const uint64_t replicated = VectorBytes(l.attn_norm) + VectorBytes(l.ffn_norm) + MatrixBytes(l.router) +
                                VectorBytes(l.expert_bias) + VectorBytes(l.q_norm) + VectorBytes(l.k_norm);
    const uint64_t attention = MatrixBytes(l.wq) + MatrixBytes(l.wk) + MatrixBytes(l.wv) + MatrixBytes(l.wo);
    const uint64_t one_expert = MatrixBytes(l.gate_exps.first) + MatrixBytes(l.up_exps.first) +
                                MatrixBytes(l.down_exps.first);
    replicated_read += replicated;
    split_read += attention + one_expert * s.n_expert_used;
    load.weight_bytes += replicated + attention + one_expert * s.n_expert;
  }
  load.token_bytes = replicated_read + split_read;
  load.replicated_token_bytes = replicated_read;
  return load;
}

std::string DescribePlan(const ModelConfig& config, const PlannedShards& planned, uint64_t whole_token_bytes) {
  const ModelShape& s = config.shape;
  std::string out = fmt::format(
      "plan for {} ranks (attention by KV heads with their GQA groups, expert-TP over each expert's FFN rows, "
      "LM head by vocab; router, norms and embeddings replicated):\n",
      planned.plan.size());
  uint64_t slowest = 0;
  for (size_t r = 0; r < planned.plan.size(); ++r) {
    const Shard& p = planned.plan[r];
    const RankLoad& l = planned.loads[r];
    slowest = std::max(slowest, l.token_bytes);
    out += fmt::format(
        "  rank {}: KV heads {}-{} (q heads {}), FFN rows {}-{} of {}, vocab {}-{}; weights {}, bytes per token {} "
        "({} replicated)\n",
        r, p.kv_head_begin, p.kv_head_begin + p.n_kv_head - 1, p.n_head(s), p.ff_begin, p.ff_begin + p.n_ff - 1,
        s.n_ff_exp, p.vocab_begin, p.vocab_begin + p.n_vocab - 1, Gib(l.weight_bytes), Gib(l.token_bytes),
        Gib(l.replicated_token_bytes));
  }
  out += fmt::format("  slowest rank reads {} per token, {:.0f}% of one rank holding the whole model ({})\n",
                     Gib(slowest), 100.0 * static_cast<double>(slowest) / static_cast<double>(whole_token_bytes),
                     Gib(whole_token_bytes));
  return out;
}

}  // namespace tandem
