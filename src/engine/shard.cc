#include "engine/shard.h"

#include <fmt/format.h>

namespace tandem {
namespace {

WeightVector Slice(const WeightVector& v, int64_t first, int64_t count) { return WeightVector{v.data + first, count}; }

// Experts [e0, e0 + n) of m, each cut to rows [first, first + count).
ExpertMatrices ExpertRows(const ExpertMatrices& m, int64_t e0, int64_t n, int64_t first, int64_t count) {
  return ExpertMatrices{m.expert(e0).Rows(first, count), n, m.expert_stride};
}

// Experts [e0, e0 + n) of m, each cut to columns [first, first + count).
Expected<ExpertMatrices> ExpertColumns(const ExpertMatrices& m, int64_t e0, int64_t n, int64_t first, int64_t count) {
  TANDEM_ASSIGN_OR_RETURN(WeightMatrix cols, m.expert(e0).Columns(first, count));
  return ExpertMatrices{cols, n, m.expert_stride};
}

}  // namespace

ShardPlan WholeModel(const ModelShape& s) {
  Shard shard;
  shard.n_kv_head = s.n_head_kv;
  shard.n_expert = s.n_expert;
  shard.n_ff = s.n_ff_exp;
  shard.n_vocab = s.n_vocab;
  return {shard};
}

Status CheckPlan(const ShardPlan& plan, const ModelShape& s) {
  if (plan.empty()) return Status::Error("the shard plan has no ranks");
  const bool ep = plan[0].n_ff == s.n_ff_exp && plan[0].n_expert < s.n_expert;
  int64_t kv = 0, experts = 0, ff = 0, vocab = 0;
  for (size_t r = 0; r < plan.size(); ++r) {
    const Shard& p = plan[r];
    if (p.rank != static_cast<int>(r) || p.n_ranks != static_cast<int>(plan.size())) {
      return Status::Error("shard {} of the plan says rank {} of {}", r, p.rank, p.n_ranks);
    }
    const bool moe_ok = ep ? p.expert_begin == experts && p.n_expert >= 1 && p.ff_begin == 0 && p.n_ff == s.n_ff_exp
                           : p.ff_begin == ff && p.n_ff >= 1 && p.expert_begin == 0 && p.n_expert == s.n_expert;
    if (p.kv_head_begin != kv || p.vocab_begin != vocab || p.n_kv_head < 1 || p.n_vocab < 1 || !moe_ok) {
      return Status::Error(
          "rank {} does not continue the previous rank's heads, experts or FFN rows and vocab, or holds none", r);
    }
    kv += p.n_kv_head;
    experts += p.n_expert;
    ff += p.n_ff;
    vocab += p.n_vocab;
  }
  const int64_t ranks = static_cast<int64_t>(plan.size());
  const bool moe_covered = ep ? experts == s.n_expert : ff == s.n_ff_exp && experts == ranks * s.n_expert;
  if (kv != s.n_head_kv || vocab != s.n_vocab || !moe_covered) {
    return Status::Error(
        "the plan covers {} KV heads, {} vocab rows, {} experts x {} FFN rows; the model has {}, {}, {} x {}", kv,
        vocab, ep ? experts : s.n_expert, ep ? s.n_ff_exp : ff, s.n_head_kv, s.n_vocab, s.n_expert, s.n_ff_exp);
  }
  return Status::Ok();
}

Expected<ModelWeights> SliceWeights(const ModelWeights& full, const ModelConfig& config, const Shard& shard) {
  const ModelShape& s = config.shape;
  const int64_t hd = s.head_dim;
  const int64_t q_first = shard.head_begin(s) * hd, q_count = shard.n_head(s) * hd;
  const int64_t kv_first = shard.kv_head_begin * hd, kv_count = shard.n_kv_head * hd;
  ModelWeights w = full;
  w.output = full.output.Rows(shard.vocab_begin, shard.n_vocab);
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& f = full.layers[l];
    LayerWeights& lw = w.layers[l];
    auto where = [&](const char* tensor) {
      return fmt::format("blk.{}.{} on rank {} of {}", l, tensor, shard.rank, shard.n_ranks);
    };
    lw.wq = f.wq.Rows(q_first, q_count);
    lw.wk = f.wk.Rows(kv_first, kv_count);
    lw.wv = f.wv.Rows(kv_first, kv_count);
    auto wo = f.wo.Columns(q_first, q_count);
    if (!wo.ok()) return wo.status().WithContext(where("attn_output"));
    lw.wo = *wo;
    if (config.whole_qk_norm) {
      lw.q_norm = Slice(f.q_norm, q_first, q_count);
      lw.k_norm = Slice(f.k_norm, kv_first, kv_count);
    }
    const int64_t e0 = shard.expert_begin, ne = shard.n_expert;
    lw.gate_exps = ExpertRows(f.gate_exps, e0, ne, shard.ff_begin, shard.n_ff);
    lw.up_exps = ExpertRows(f.up_exps, e0, ne, shard.ff_begin, shard.n_ff);
    auto down = ExpertColumns(f.down_exps, e0, ne, shard.ff_begin, shard.n_ff);
    if (!down.ok()) return down.status().WithContext(where("ffn_down_exps"));
    lw.down_exps = *down;
  }
  return w;
}

}  // namespace tandem
