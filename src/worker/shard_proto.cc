#include "worker/shard_proto.h"

namespace tandem {

void ToProto(const ShardPlan& plan, google::protobuf::RepeatedPtrField<cluster::v1::ShardSpec>* out) {
  out->Clear();
  for (const Shard& s : plan) {
    cluster::v1::ShardSpec* spec = out->Add();
    spec->set_rank(s.rank);
    spec->set_n_ranks(s.n_ranks);
    spec->set_kv_head_begin(s.kv_head_begin);
    spec->set_n_kv_head(s.n_kv_head);
    spec->set_ff_begin(s.ff_begin);
    spec->set_n_ff(s.n_ff);
    spec->set_vocab_begin(s.vocab_begin);
    spec->set_n_vocab(s.n_vocab);
    spec->set_expert_begin(s.expert_begin);
    spec->set_n_expert(s.n_expert);
  }
}

Expected<ShardPlan> FromProto(const google::protobuf::RepeatedPtrField<cluster::v1::ShardSpec>& specs) {
  if (specs.empty()) return Status::Error("the shard plan is empty");
  ShardPlan plan;
  for (const cluster::v1::ShardSpec& spec : specs) {
    Shard s;
    s.rank = spec.rank();
    s.n_ranks = spec.n_ranks();
    s.kv_head_begin = spec.kv_head_begin();
    s.n_kv_head = spec.n_kv_head();
    s.ff_begin = spec.ff_begin();
    s.n_ff = spec.n_ff();
    s.vocab_begin = spec.vocab_begin();
    s.n_vocab = spec.n_vocab();
    s.expert_begin = spec.expert_begin();
    s.n_expert = spec.n_expert();
    plan.push_back(s);
  }
  return plan;
}

}  // namespace tandem
