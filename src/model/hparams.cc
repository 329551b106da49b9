#include "model/hparams.h"

namespace tandem {

Expected<ModelConfig> ReadModelConfig(const GgufMetadata& md, uint32_t n_vocab_hint) {
  ModelConfig c;
  TANDEM_ASSIGN_OR_RETURN(c.shape, ReadShape(md, n_vocab_hint));
  const Arch arch = c.shape.arch;
  const ArchTraits& traits = Traits(arch);
  auto key = [arch](std::string_view suffix) { return fmt::format("{}.{}", ArchName(arch), suffix); };

  uint32_t gating = traits.gating_func;
  if (md.Has(key("expert_gating_func"))) {
    TANDEM_ASSIGN_OR_RETURN(gating, md.GetU32(key("expert_gating_func")));
  }
  if (gating != 1 && gating != 2) {
    return Status::Error("{} = {}: expected 1 (softmax) or 2 (sigmoid)", key("expert_gating_func"), gating);
  }
  c.sigmoid_gating = gating == 2;
  if (md.Has(key("expert_weights_norm"))) {
    TANDEM_ASSIGN_OR_RETURN(c.norm_topk, md.GetBool(key("expert_weights_norm")));
  }
  if (md.Has(key("expert_weights_scale"))) {
    TANDEM_ASSIGN_OR_RETURN(c.expert_weights_scale, md.GetF32(key("expert_weights_scale")));
    if (!(c.expert_weights_scale > 0.0f)) {
      return Status::Error("{} = {}: expected a positive scale", key("expert_weights_scale"),
                           c.expert_weights_scale);
    }
  }
  c.has_expert_bias = traits.has_expert_bias;
  c.whole_qk_norm = traits.whole_qk_norm;

  if (md.Has(key("rope.scaling.type"))) {
    TANDEM_ASSIGN_OR_RETURN(std::string type, md.GetString(key("rope.scaling.type")));
    if (type == "yarn") {
      c.rope_scaling.yarn = true;
    } else if (type != "none") {
      return Status::Error("{} = '{}': tandem supports 'yarn' or 'none'", key("rope.scaling.type"), type);
    }
  }
  if (c.rope_scaling.yarn) {
    TANDEM_ASSIGN_OR_RETURN(c.rope_scaling.factor, md.GetF32(key("rope.scaling.factor")));
    TANDEM_ASSIGN_OR_RETURN(c.rope_scaling.original_context, md.GetU32(key("rope.scaling.original_context_length")));
    if (md.Has(key("rope.scaling.attn_factor"))) {
      TANDEM_ASSIGN_OR_RETURN(c.rope_scaling.attn_factor, md.GetF32(key("rope.scaling.attn_factor")));
    }
    if (!(c.rope_scaling.factor >= 1.0f) || c.rope_scaling.original_context == 0) {
      return Status::Error("YaRN needs {} >= 1 and {} > 0 (file has {} and {})", key("rope.scaling.factor"),
                           key("rope.scaling.original_context_length"), c.rope_scaling.factor,
                           c.rope_scaling.original_context);
    }
  }
  if (!(c.shape.rms_eps > 0.0f && c.shape.rms_eps < 1.0f)) {
    return Status::Error("{} = {}: expected a small positive epsilon", key("attention.layer_norm_rms_epsilon"),
                         c.shape.rms_eps);
  }
  if (!(c.shape.rope_freq_base > 0.0f)) {
    return Status::Error("{} = {}: expected a positive base", key("rope.freq_base"), c.shape.rope_freq_base);
  }
  return c;
}

}  // namespace tandem
