#include "engine/shard.h"

#include <fmt/format.h>

namespace tandem {
namespace {

WeightVector Slice(const WeightVector& v, int64_t first, int64_t count) { return WeightVector{v.data + first, count}; }

ExpertMatrices ExpertRows(const ExpertMatrices& m, int64_t first, int64_t count) {
  return ExpertMatrices{m.first.Rows(first, count), m.n_expert, m.expert_stride};
}

Expected<ExpertMatrices> ExpertColumns(const ExpertMatrices& m, int64_t first, int64_t count) {
  TANDEM_ASSIGN_OR_RETURN(WeightMatrix cols, m.first.Columns(first, count));
  return ExpertMatrices{cols, m.n_expert, m.expert_stride};
}

}  // namespace

ShardPlan WholeModel(const ModelShape& s) {
  Shard shard;
  shard.n_kv_head = s.n_head_kv;
  shard.n_ff = s.n_ff_exp;
  shard.n_vocab = s.n_vocab;
  return {shard};
}

Status CheckPlan(const ShardPlan& plan, const ModelShape& s) {
  if (plan.empty()) return Status::Error("the shard plan has no ranks");
  int64_t kv = 0, ff = 0, vocab = 0;
  for (size_t r = 0; r < plan.size(); ++r) {
    const Shard& p = plan[r];
    if (p.rank != static_cast<int>(r) || p.n_ranks != static_cast<int>(plan.size())) {
      return Status::Error("shard {} of the plan says rank {} of {}", r, p.rank, p.n_ranks);
    }
    if (p.kv_head_begin != kv || p.ff_begin != ff || p.vocab_begin != vocab || p.n_kv_head < 1 || p.n_ff < 1 ||
        p.n_vocab < 1) {
      return Status::Error("rank {} does not continue the previous rank's heads, FFN rows and vocab, or holds none",
                           r);
    }
    kv += p.n_kv_head;
    ff += p.n_ff;
    vocab += p.n_vocab;
  }
  if (kv != s.n_head_kv || ff != s.n_ff_exp || vocab != s.n_vocab) {
    return Status::Error("the plan covers {} KV heads, {} FFN rows, {} vocab rows; the model has {}, {}, {}", kv, ff,
                         vocab, s.n_head_kv, s.n_ff_exp, s.n_vocab);
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
    lw.gate_exps = ExpertRows(f.gate_exps, shard.ff_begin, shard.n_ff);
    lw.up_exps = ExpertRows(f.up_exps, shard.ff_begin, shard.n_ff);
    auto down = ExpertColumns(f.down_exps, shard.ff_begin, shard.n_ff);
    if (!down.ok()) return down.status().WithContext(where("ffn_down_exps"));
    lw.down_exps = *down;
  }
  return w;
}

}  // namespace tandem
