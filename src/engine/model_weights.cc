#include "engine/model_weights.h"

#include <fmt/ranges.h>

namespace tandem {
namespace {

class Binder {
 public:
  explicit Binder(const GgufModel& model) : model_(model) {}

  // ne: expected dims, ne[0] the row length.
  Expected<WeightMatrix> Matrix(const std::string& name, std::vector<int64_t> ne) {
    TANDEM_ASSIGN_OR_RETURN(const Tensor* t, Check(name, ne));
    int64_t rows = 1;
    for (size_t d = 1; d < ne.size(); ++d) rows *= ne[d];
    return WeightMatrix::Contiguous(t->type(), t->data, rows, ne[0]);
  }

  // ne: {cols, rows, n_expert}.
  Expected<ExpertMatrices> Experts(const std::string& name, std::vector<int64_t> ne) {
    TANDEM_ASSIGN_OR_RETURN(const Tensor* t, Check(name, ne));
    WeightMatrix first = WeightMatrix::Contiguous(t->type(), t->data, ne[1], ne[0]);
    return ExpertMatrices{first, ne[2], first.row_bytes() * static_cast<uint64_t>(ne[1])};
  }

  Expected<WeightVector> Vector(const std::string& name, int64_t n) {
    TANDEM_ASSIGN_OR_RETURN(const Tensor* t, Check(name, {n}));
    if (t->type() != GgmlType::F32) {
      return Status::Error("tensor '{}' is {}, expected F32 (norm weights and biases are kept in F32)", name,
                           TypeName(t->type()));
    }
    return WeightVector{reinterpret_cast<const float*>(t->data), n};
  }

 private:
  Expected<const Tensor*> Check(const std::string& name, const std::vector<int64_t>& ne) {
    TANDEM_ASSIGN_OR_RETURN(const Tensor* t, model_.Get(name));
    if (t->info.ne != ne) {
      return Status::Error("tensor '{}' has shape [{}], expected [{}] for this model's hyperparameters", name,
                           fmt::join(t->info.ne, ", "), fmt::join(ne, ", "));
    }
    if (reinterpret_cast<uintptr_t>(t->data) % 4 != 0) {
      return Status::Error("tensor '{}' data is not 4-byte aligned in the file", name);
    }
    return t;
  }

  const GgufModel& model_;
};

}  // namespace

WeightMatrix WeightMatrix::Contiguous(GgmlType type, const void* data, int64_t rows, int64_t cols) {
  WeightMatrix w{type, static_cast<const uint8_t*>(data), rows, cols, 0};
  w.row_stride = w.row_bytes();
  return w;
}

WeightMatrix WeightMatrix::Rows(int64_t first, int64_t count) const {
  return WeightMatrix{type, row(first), count, cols, row_stride};
}

Expected<WeightMatrix> WeightMatrix::Columns(int64_t first, int64_t count) const {
  const int64_t block = TypeInfo(type).block_size;
  if (first % block != 0 || count % block != 0 || first < 0 || first + count > cols) {
    return Status::Error("columns [{}, {}) of a {}-column {} matrix do not fall on its {}-value blocks", first,
                         first + count, cols, TypeName(type), block);
  }
  return WeightMatrix{type, data + RowBytes(type, static_cast<uint64_t>(first)), rows, count, row_stride};
}

WeightMatrix ExpertMatrices::expert(int64_t e) const {
  WeightMatrix w = first;
  w.data += static_cast<uint64_t>(e) * expert_stride;
  return w;
}

Expected<ModelWeights> ModelWeights::Bind(const GgufModel& model, const ModelConfig& config) {
  const ModelShape& s = config.shape;
  const int64_t embd = s.n_embd, q_dim = int64_t{s.n_head} * s.head_dim, kv_dim = int64_t{s.n_head_kv} * s.head_dim;
  Binder b(model);
  ModelWeights w;
  TANDEM_ASSIGN_OR_RETURN(w.token_embd, b.Matrix("token_embd.weight", {embd, s.n_vocab}));
  TANDEM_ASSIGN_OR_RETURN(w.output_norm, b.Vector("output_norm.weight", embd));
  if (model.Find("output.weight") != nullptr) {
    TANDEM_ASSIGN_OR_RETURN(w.output, b.Matrix("output.weight", {embd, s.n_vocab}));
  } else {
    w.output = w.token_embd;
  }
  const int64_t qk_norm_q = config.whole_qk_norm ? q_dim : s.head_dim;
  const int64_t qk_norm_k = config.whole_qk_norm ? kv_dim : s.head_dim;
  for (uint32_t l = 0; l < s.n_layer; ++l) {
    auto name = [l](std::string_view what) { return fmt::format("blk.{}.{}", l, what); };
    LayerWeights lw;
    TANDEM_ASSIGN_OR_RETURN(lw.attn_norm, b.Vector(name("attn_norm.weight"), embd));
    TANDEM_ASSIGN_OR_RETURN(lw.wq, b.Matrix(name("attn_q.weight"), {embd, q_dim}));
    TANDEM_ASSIGN_OR_RETURN(lw.wk, b.Matrix(name("attn_k.weight"), {embd, kv_dim}));
    TANDEM_ASSIGN_OR_RETURN(lw.wv, b.Matrix(name("attn_v.weight"), {embd, kv_dim}));
    TANDEM_ASSIGN_OR_RETURN(lw.wo, b.Matrix(name("attn_output.weight"), {q_dim, embd}));
    TANDEM_ASSIGN_OR_RETURN(lw.q_norm, b.Vector(name("attn_q_norm.weight"), qk_norm_q));
    TANDEM_ASSIGN_OR_RETURN(lw.k_norm, b.Vector(name("attn_k_norm.weight"), qk_norm_k));
    TANDEM_ASSIGN_OR_RETURN(lw.ffn_norm, b.Vector(name("ffn_norm.weight"), embd));
    TANDEM_ASSIGN_OR_RETURN(lw.router, b.Matrix(name("ffn_gate_inp.weight"), {embd, s.n_expert}));
    if (config.has_expert_bias) {
      TANDEM_ASSIGN_OR_RETURN(lw.expert_bias, b.Vector(name("exp_probs_b.bias"), s.n_expert));
    }
    TANDEM_ASSIGN_OR_RETURN(lw.gate_exps, b.Experts(name("ffn_gate_exps.weight"), {embd, s.n_ff_exp, s.n_expert}));
    TANDEM_ASSIGN_OR_RETURN(lw.up_exps, b.Experts(name("ffn_up_exps.weight"), {embd, s.n_ff_exp, s.n_expert}));
    TANDEM_ASSIGN_OR_RETURN(lw.down_exps, b.Experts(name("ffn_down_exps.weight"), {s.n_ff_exp, embd, s.n_expert}));
    w.layers.push_back(lw);
  }
  return w;
}

}  // namespace tandem
