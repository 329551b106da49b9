#include "model/synth/synth_model.h"

#include <cmath>

#include "model/synth/random_rows.h"
#include "model/synth/synth_vocab.h"

namespace tandem {
namespace {

// Which flag sets a row length, for errors about block sizes.
std::string_view RowFlag(const ModelShape& s, int64_t row_len) {
  if (row_len == s.n_embd) return "--embd";
  if (row_len == s.n_ff_exp) return "--ff";
  return "--heads/--head-dim";
}

}  // namespace

Expected<SynthModel> SynthModel::Build(const SynthOptions& options) {
  const ModelShape& s = options.shape;
  if (s.n_layer == 0 || s.n_embd == 0 || s.n_head == 0 || s.n_head_kv == 0 || s.head_dim == 0 || s.n_expert == 0 ||
      s.n_ff_exp == 0 || s.n_expert_used == 0) {
    return Status::Error("every dimension must be at least 1");
  }
  if (s.n_head % s.n_head_kv != 0) {
    return Status::Error("--heads {} is not a multiple of --kv-heads {}", s.n_head, s.n_head_kv);
  }
  if (s.n_expert_used > s.n_expert) {
    return Status::Error("--experts-used {} exceeds --experts {}", s.n_expert_used, s.n_expert);
  }
  if (s.n_rot > s.head_dim || s.n_rot % 2 != 0) {
    return Status::Error("--rot {} must be even and at most --head-dim {}", s.n_rot, s.head_dim);
  }
  if (options.k_outlier_channels > s.head_dim) {
    return Status::Error("--k-outliers {} exceeds --head-dim {}", options.k_outlier_channels, s.head_dim);
  }

  SynthModel model;
  model.options_ = options;
  GgufMetadata& md = model.writer_.metadata();
  md.Set("general.architecture", GgufValue::String(std::string(ArchName(s.arch))));
  md.Set("general.name", GgufValue::String(fmt::format("tandem synthetic {} {}", ArchName(s.arch),
                                                       RecipeName(options.recipe))));
  md.Set("general.file_type", GgufValue::U32(RecipeFileType(options.recipe)));
  md.Set("general.quantization_version", GgufValue::U32(2));
  WriteShape(s, md);
  TANDEM_TRY(WriteSynthVocab(s.arch, options.vocab_path, s.n_vocab, md));

  const int64_t embd = s.n_embd, q_dim = int64_t{s.n_head} * s.head_dim, kv_dim = int64_t{s.n_head_kv} * s.head_dim;
  const bool whole_qk_norm = Traits(s.arch).whole_qk_norm;
  auto inv_sqrt = [](int64_t n) { return 1.0f / std::sqrt(static_cast<float>(n)); };
  auto add = [&](std::string name, std::vector<int64_t> ne, TensorRole role, uint32_t layer, float stddev) {
    model.writer_.AddTensor(std::move(name), std::move(ne), RecipeType(options.recipe, role, layer, s.n_layer));
    model.plans_.push_back({role, stddev});
  };

  add("token_embd.weight", {embd, s.n_vocab}, TensorRole::kEmbedding, 0, 1.0f);
  for (uint32_t l = 0; l < s.n_layer; ++l) {
    auto name = [l](std::string_view what) { return fmt::format("blk.{}.{}", l, what); };
    add(name("attn_norm.weight"), {embd}, TensorRole::kNorm, l, 0.1f);
    add(name("attn_q.weight"), {embd, q_dim}, TensorRole::kAttnQ, l, inv_sqrt(embd));
    add(name("attn_k.weight"), {embd, kv_dim}, TensorRole::kAttnK, l, inv_sqrt(embd));
    add(name("attn_v.weight"), {embd, kv_dim}, TensorRole::kAttnV, l, inv_sqrt(embd));
    add(name("attn_output.weight"), {q_dim, embd}, TensorRole::kAttnOut, l, inv_sqrt(q_dim));
    add(name("attn_q_norm.weight"), {whole_qk_norm ? q_dim : int64_t{s.head_dim}}, TensorRole::kNorm, l, 0.1f);
    add(name("attn_k_norm.weight"), {whole_qk_norm ? kv_dim : int64_t{s.head_dim}}, TensorRole::kNorm, l, 0.1f);
    add(name("ffn_norm.weight"), {embd}, TensorRole::kNorm, l, 0.1f);
    add(name("ffn_gate_inp.weight"), {embd, s.n_expert}, TensorRole::kRouter, l, inv_sqrt(embd));
    if (Traits(s.arch).has_expert_bias) add(name("exp_probs_b.bias"), {s.n_expert}, TensorRole::kNorm, l, 0.1f);
    add(name("ffn_gate_exps.weight"), {embd, s.n_ff_exp, s.n_expert}, TensorRole::kGateExps, l, inv_sqrt(embd));
    add(name("ffn_down_exps.weight"), {s.n_ff_exp, embd, s.n_expert}, TensorRole::kDownExps, l, inv_sqrt(s.n_ff_exp));
    add(name("ffn_up_exps.weight"), {embd, s.n_ff_exp, s.n_expert}, TensorRole::kUpExps, l, inv_sqrt(embd));
  }
  add("output_norm.weight", {embd}, TensorRole::kNorm, 0, 0.1f);
  // A larger head spread gives peaked next-token distributions, as trained models have.
  add("output.weight", {embd, s.n_vocab}, TensorRole::kOutput, 0, 3.0f * inv_sqrt(embd));

  for (const GgufTensorInfo& t : model.tensors()) {
    const GgmlTypeInfo& info = TypeInfo(t.type);
    if (t.ne[0] % info.block_size != 0) {
      return Status::Error(
          "tensor {}: rows of {} values ({}) do not divide into {} blocks of {}: choose a multiple of {} or another "
          "--recipe",
          t.name, t.ne[0], RowFlag(s, t.ne[0]), info.name, info.block_size, info.block_size);
    }
  }
  return model;
}

TokenBytes SynthModel::token_bytes() const {
  return ComputeTokenBytes(tensors(), options_.shape.n_expert_used, options_.shape.n_expert);
}

Status SynthModel::FillTensor(size_t index, std::span<uint8_t> dst) const {
  const GgufTensorInfo& t = tensors().at(index);
  const Plan& plan = plans_.at(index);
  RowSpec spec;
  spec.type = t.type;
  spec.row_len = t.ne[0];
  spec.rows = t.rows();
  spec.stddev = plan.stddev;
  spec.seed = MixSeed(options_.seed, t.name);
  // norms spread around 1; the expert-selection bias around 0
  spec.mean = plan.role == TensorRole::kNorm && t.name.find("exp_probs_b") == std::string::npos ? 1.0f : 0.0f;
  if (plan.role == TensorRole::kAttnK && options_.k_outlier_channels > 0) {
    spec.outlier_period = options_.shape.head_dim;
    spec.outlier_count = options_.k_outlier_channels;
    spec.outlier_scale = options_.k_outlier_scale;
  }
  if (dst.size() != t.nbytes) {
    return Status::Error("buffer of {} bytes for a tensor of {} bytes", dst.size(), t.nbytes);
  }
  FillRandomRows(spec, dst);
  return Status::Ok();
}

Status SynthModel::WriteFile(const std::string& path, bool progress) const {
  return writer_.WriteFile(
      path, [this](size_t index, std::span<uint8_t> dst) { return FillTensor(index, dst); }, progress);
}

}  // namespace tandem
