#include "coordinator/shard_planner.h"

#include <algorithm>
#include <cmath>
#include <functional>

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

std::string Gib(double bytes) { return fmt::format("{:.3f} GiB", bytes / (1ull << 30)); }

double Choose(int64_t n, int64_t k) {
  if (k < 0 || k > n) return 0;
  return std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0));
}

// Bytes rank r reads in one layer: fixed[r] for attention plus per_expert[r] for each of
// its experts the token routes to.
struct LayerCost {
  std::vector<double> fixed, per_expert;
};

// E[max over ranks of fixed[r] + c[r] * per_expert[r]] when k of n_expert experts are
// routed uniformly: c follows the multivariate hypergeometric law over the ranks' expert
// counts (exact enumeration; for expert-TP every rank holds all experts and c[r] = k).
double ExpectedSlowest(const LayerCost& cost, const std::vector<int64_t>& experts_of_rank, int64_t n_expert,
                       int64_t k, bool ep) {
  const size_t ranks = cost.fixed.size();
  if (!ep) {
    double slowest = 0;
    for (size_t r = 0; r < ranks; ++r) slowest = std::max(slowest, cost.fixed[r] + k * cost.per_expert[r]);
    return slowest;
  }
  const double all = Choose(n_expert, k);
  std::vector<int64_t> c(ranks, 0);
  double expected = 0;
  std::function<void(size_t, int64_t, double)> walk = [&](size_t r, int64_t left, double ways) {
    if (r + 1 == ranks) {
      c[r] = left;
      const double w = ways * Choose(experts_of_rank[r], left);
      if (w == 0) return;
      double slowest = 0;
      for (size_t i = 0; i < ranks; ++i) slowest = std::max(slowest, cost.fixed[i] + c[i] * cost.per_expert[i]);
      expected += w / all * slowest;
      return;
    }
    for (int64_t take = 0; take <= std::min(left, experts_of_rank[r]); ++take) {
      c[r] = take;
      walk(r + 1, left - take, ways * Choose(experts_of_rank[r], take));
    }
  };
  walk(0, k, 1.0);
  return expected;
}

// The plan of one MoE split, or why it cannot be made.
Expected<PlannedShards> PlanWith(const ModelConfig& config, const ModelWeights& weights, int n_ranks, MoeSplit split) {
  const ModelShape& s = config.shape;
  const bool ep = split == MoeSplit::kExpertParallel;
  const GgmlType down_type = weights.layers.empty() ? GgmlType::F32 : weights.layers[0].down_exps.first.type;
  const int64_t block = TypeInfo(down_type).block_size;
  const int64_t ff_blocks = s.n_ff_exp / block;
  if (!ep && ff_blocks < n_ranks) {
    return Status::Error(
        "expert-TP: each expert's FFN of {} rows is {} block(s) of {} for its {} down projection, too few for {} "
        "ranks (use at most {} ranks, or --moe-split ep)",
        s.n_ff_exp, ff_blocks, block, TypeName(down_type), n_ranks, ff_blocks);
  }
  if (ep && s.n_expert < static_cast<uint32_t>(n_ranks)) {
    return Status::Error("expert-parallel: {} experts cannot be split over {} ranks", s.n_expert, n_ranks);
  }
  const std::vector<int64_t> kv = EvenSplit(s.n_head_kv, n_ranks);
  const std::vector<int64_t> ff = ep ? std::vector<int64_t>(n_ranks, ff_blocks) : EvenSplit(ff_blocks, n_ranks);
  const std::vector<int64_t> experts = ep ? EvenSplit(s.n_expert, n_ranks) : std::vector<int64_t>(n_ranks, s.n_expert);
  const std::vector<int64_t> vocab = EvenSplit(s.n_vocab, n_ranks);
  PlannedShards out;
  out.split = split;
  Shard next;
  next.n_ranks = n_ranks;
  for (int r = 0; r < n_ranks; ++r) {
    next.rank = r;
    next.n_kv_head = kv[r];
    next.n_expert = experts[r];
    next.n_ff = ff[r] * block;
    next.n_vocab = vocab[r];
    out.plan.push_back(next);
    next.kv_head_begin += next.n_kv_head;
    if (ep) next.expert_begin += next.n_expert;
    if (!ep) next.ff_begin += next.n_ff;
    next.vocab_begin += next.n_vocab;
  }
  TANDEM_TRY(CheckPlan(out.plan, s));
  // Slicing checks that every cut falls on the quant blocks of its tensor.
  std::vector<ModelWeights> sliced;
  for (const Shard& shard : out.plan) {
    TANDEM_ASSIGN_OR_RETURN(RankLoad load, MeasureShard(config, weights, shard));
    out.loads.push_back(load);
    TANDEM_ASSIGN_OR_RETURN(ModelWeights w, SliceWeights(weights, config, shard));
    sliced.push_back(std::move(w));
  }
  double step = 0, head = 0;
  for (size_t l = 0; l < weights.layers.size(); ++l) {
    LayerCost cost;
    for (const ModelWeights& w : sliced) {
      const LayerWeights& lw = w.layers[l];
      cost.fixed.push_back(static_cast<double>(MatrixBytes(lw.wq) + MatrixBytes(lw.wk) + MatrixBytes(lw.wv) +
                                               MatrixBytes(lw.wo) + MatrixBytes(lw.router)));
      cost.per_expert.push_back(static_cast<double>(MatrixBytes(lw.gate_exps.first) + MatrixBytes(lw.up_exps.first) +
                                                    MatrixBytes(lw.down_exps.first)));
    }
    step += ExpectedSlowest(cost, experts, s.n_expert, s.n_expert_used, ep);
  }
  for (const ModelWeights& w : sliced) head = std::max(head, static_cast<double>(MatrixBytes(w.output)));
  out.step_token_bytes = step + head;
  return out;
}

}  // namespace

std::string_view MoeSplitName(MoeSplit split) {
  switch (split) {
    case MoeSplit::kAuto: return "auto";
    case MoeSplit::kExpertTp: return "tp";
    case MoeSplit::kExpertParallel: return "ep";
  }
  return "?";
}

Expected<MoeSplit> ParseMoeSplit(std::string_view name) {
  for (MoeSplit s : {MoeSplit::kAuto, MoeSplit::kExpertTp, MoeSplit::kExpertParallel}) {
    if (name == MoeSplitName(s)) return s;
  }
  return Status::Error("unknown MoE split '{}': use auto, tp (expert-TP) or ep (expert-parallel)", name);
}

Expected<PlannedShards> PlanShards(const ModelConfig& config, const ModelWeights& weights, int n_ranks,
                                   MoeSplit split) {
  const ModelShape& s = config.shape;
  if (n_ranks < 1) return Status::Error("a plan needs at least one rank, not {}", n_ranks);
  if (n_ranks > static_cast<int>(s.n_head_kv)) {
    return Status::Error("{} KV heads cannot be split over {} ranks: use at most {} ranks", s.n_head_kv, n_ranks,
                         s.n_head_kv);
  }
  if (split != MoeSplit::kAuto || n_ranks == 1) {
    TANDEM_ASSIGN_OR_RETURN(PlannedShards only, PlanWith(config, weights, n_ranks,
                                                         split == MoeSplit::kAuto ? MoeSplit::kExpertTp : split));
    only.why = n_ranks == 1 ? "one rank holds the whole model" : fmt::format("--moe-split {}", MoeSplitName(split));
    return only;
  }
  auto tp = PlanWith(config, weights, n_ranks, MoeSplit::kExpertTp);
  auto ep = PlanWith(config, weights, n_ranks, MoeSplit::kExpertParallel);
  if (!tp.ok() && !ep.ok()) return tp.status();
  if (!ep.ok()) {
    tp->why = fmt::format("expert-TP (expert-parallel impossible: {})", ep.status().message());
    return tp;
  }
  if (!tp.ok()) {
    ep->why = fmt::format("expert-parallel (expert-TP impossible: {})", tp.status().message());
    return ep;
  }
  const bool take_ep = ep->step_token_bytes < tp->step_token_bytes;
  PlannedShards chosen = take_ep ? std::move(ep).value() : std::move(tp).value();
  const double other = take_ep ? tp->step_token_bytes : ep->step_token_bytes;
  chosen.why = fmt::format("{}: the slowest rank reads {} per token against {} with {}",
                           take_ep ? "expert-parallel" : "expert-TP", Gib(chosen.step_token_bytes), Gib(other),
                           take_ep ? "expert-TP" : "expert-parallel (routing imbalance at batch 1)");
  return chosen;
}

Expected<RankLoad> MeasureShard(const ModelConfig& config, const ModelWeights& full, const Shard& shard) {
  const ModelShape& s = config.shape;
  TANDEM_ASSIGN_OR_RETURN(const ModelWeights w, SliceWeights(full, config, shard));
  RankLoad load;
  uint64_t replicated_read = full.token_embd.row_bytes() + VectorBytes(w.output_norm);
  double split_read = static_cast<double>(MatrixBytes(w.output));
  load.weight_bytes = MatrixBytes(full.token_embd) + VectorBytes(w.output_norm) +
                      (full.output.data == full.token_embd.data ? 0 : MatrixBytes(w.output));
  // Experts routed to this rank per token, on average: all k under expert-TP.
  const double routed_here = static_cast<double>(s.n_expert_used) * shard.n_expert / s.n_expert;
  for (const LayerWeights& l : w.layers) {
    const uint64_t replicated = VectorBytes(l.attn_norm) + VectorBytes(l.ffn_norm) + MatrixBytes(l.router) +
                                VectorBytes(l.expert_bias) + VectorBytes(l.q_norm) + VectorBytes(l.k_norm);
    const uint64_t attention = MatrixBytes(l.wq) + MatrixBytes(l.wk) + MatrixBytes(l.wv) + MatrixBytes(l.wo);
    const uint64_t one_expert = MatrixBytes(l.gate_exps.first) + MatrixBytes(l.up_exps.first) +
                                MatrixBytes(l.down_exps.first);
    replicated_read += replicated;
    split_read += static_cast<double>(attention) + routed_here * static_cast<double>(one_expert);
    load.weight_bytes += replicated + attention + one_expert * static_cast<uint64_t>(shard.n_expert);
  }
  load.token_bytes = static_cast<double>(replicated_read) + split_read;
  load.replicated_token_bytes = replicated_read;
  return load;
}

std::string ShardSummary(const Shard& p, const ModelShape& s) {
  const bool ep = p.n_expert < static_cast<int64_t>(s.n_expert);
  const std::string moe = ep ? fmt::format("experts {}-{} of {}", p.expert_begin, p.expert_begin + p.n_expert - 1,
                                           s.n_expert)
                             : fmt::format("FFN rows {}-{} of {}", p.ff_begin, p.ff_begin + p.n_ff - 1, s.n_ff_exp);
  return fmt::format("KV heads {}-{} (q heads {}), {}, vocab {}-{}", p.kv_head_begin,
                     p.kv_head_begin + p.n_kv_head - 1, p.n_head(s), moe, p.vocab_begin,
                     p.vocab_begin + p.n_vocab - 1);
}

uint64_t KvCacheBytes(const ModelShape& s, const Shard& shard, int64_t n_ctx, KvStorage storage) {
  const uint64_t elem = storage == KvStorage::kF32 ? 4 : 2;
  return 2 * static_cast<uint64_t>(s.n_layer) * static_cast<uint64_t>(n_ctx) *
         static_cast<uint64_t>(shard.n_kv_head) * static_cast<uint64_t>(s.head_dim) * elem;
}

Status CheckShardFits(const PlannedShards& planned, const ModelShape& s, int rank, int64_t n_ctx, int64_t n_seq,
                      KvStorage storage, uint64_t memory_bytes, std::string_view node) {
  const Shard& shard = planned.plan[rank];
  const uint64_t weights = planned.loads[rank].weight_bytes;
  const int64_t positions = n_ctx * std::max<int64_t>(1, n_seq);
  const uint64_t kv = KvCacheBytes(s, shard, positions, storage);
  if (weights + kv <= memory_bytes) return Status::Ok();
  const uint64_t left = memory_bytes > weights ? memory_bytes - weights : 0;
  const uint64_t per_position = kv / static_cast<uint64_t>(std::max<int64_t>(1, positions));
  const int64_t ctx_that_fits = per_position > 0 ? static_cast<int64_t>(left / per_position) / std::max<int64_t>(1, n_seq) : 0;
  const std::string cache = n_seq > 1 ? fmt::format("{} sequences x {} positions", n_seq, n_ctx)
                                      : fmt::format("{} positions", n_ctx);
  return Status::Error(
      "rank {} on {} needs {} for its weights and {} for a KV cache of {}, but {} is available: {}", rank, node,
      Gib(static_cast<double>(weights)), Gib(static_cast<double>(kv)), cache, Gib(static_cast<double>(memory_bytes)),
      weights < memory_bytes && ctx_that_fits > 0
          ? fmt::format("use a context of at most {} positions (--ctx), {}or more nodes", ctx_that_fits,
                        n_seq > 1 ? "fewer parallel sequences (--parallel), " : "")
          : std::string("its weights alone do not fit: use more nodes or a smaller quantization"));
}

std::string DescribePlan(const ModelConfig& config, const PlannedShards& planned, uint64_t whole_token_bytes) {
  const ModelShape& s = config.shape;
  const bool ep = planned.split == MoeSplit::kExpertParallel;
  std::string out = fmt::format(
      "plan for {} ranks: attention by KV heads with their GQA groups, {}, LM head by vocab; router, norms and "
      "embeddings replicated\n  why: {}\n",
      planned.plan.size(), ep ? "whole experts per rank (expert-parallel)" : "each expert's FFN rows (expert-TP)",
      planned.why);
  for (size_t r = 0; r < planned.plan.size(); ++r) {
    const Shard& p = planned.plan[r];
    const RankLoad& l = planned.loads[r];
    out += fmt::format("  rank {}: {}; weights {}, bytes per token {}{} ({} replicated)\n", r, ShardSummary(p, s),
                       Gib(static_cast<double>(l.weight_bytes)), ep ? "~" : "", Gib(l.token_bytes),
                       Gib(static_cast<double>(l.replicated_token_bytes)));
  }
  out += fmt::format(
      "  per token the ranks wait for the slowest at each layer: {}{} (plus replicated), {:.0f}% of one rank "
      "holding the whole model ({})\n",
      ep ? "expected " : "", Gib(planned.step_token_bytes),
      100.0 * (planned.step_token_bytes + static_cast<double>(planned.loads[0].replicated_token_bytes)) /
          static_cast<double>(whole_token_bytes),
      Gib(static_cast<double>(whole_token_bytes)));
  return out;
}

}  // namespace tandem
