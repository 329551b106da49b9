#include "model/arch.h"

namespace tandem {
namespace {

constexpr ArchTraits kQwen3MoeTraits{"qwen2", "Qwen-Qwen3-0.6B.jinja", 1, false, false};
constexpr ArchTraits kMiniMaxM2Traits{"minimax-m2", "MiniMax-M2.jinja", 2, true, true};

std::string Key(Arch arch, std::string_view suffix) { return fmt::format("{}.{}", ArchName(arch), suffix); }

}  // namespace

std::string_view ArchName(Arch arch) { return arch == Arch::kQwen3Moe ? "qwen3moe" : "minimax-m2"; }

Expected<Arch> ParseArch(std::string_view name) {
  if (name == "qwen3moe") return Arch::kQwen3Moe;
  if (name == "minimax-m2") return Arch::kMiniMaxM2;
  return Status::Error("unknown architecture '{}': tandem runs qwen3moe and minimax-m2", name);
}

const ArchTraits& Traits(Arch arch) { return arch == Arch::kQwen3Moe ? kQwen3MoeTraits : kMiniMaxM2Traits; }

ModelShape RealShape(Arch arch) {
  ModelShape s;
  s.arch = arch;
  if (arch == Arch::kQwen3Moe) {  // Qwen3-30B-A3B
    s.n_layer = 48;
    s.n_embd = 2048;
    s.n_head = 32;
    s.n_head_kv = 4;
    s.head_dim = 128;
    s.n_rot = 128;
    s.n_expert = 128;
    s.n_expert_used = 8;
    s.n_ff_exp = 768;
    s.n_vocab = 151936;
    s.n_ctx_train = 40960;
    s.rope_freq_base = 1000000.0f;
    s.rms_eps = 1e-6f;
  } else {  // MiniMax-M2
    s.n_layer = 62;
    s.n_embd = 3072;
    s.n_head = 48;
    s.n_head_kv = 8;
    s.head_dim = 128;
    s.n_rot = 64;
    s.n_expert = 256;
    s.n_expert_used = 8;
    s.n_ff_exp = 1536;
    s.n_vocab = 200064;
    s.n_ctx_train = 196608;
    s.rope_freq_base = 5000000.0f;
    s.rms_eps = 1e-6f;
  }
  return s;
}

Expected<ModelShape> ReadShape(const GgufMetadata& md, uint32_t n_vocab_hint) {
  TANDEM_ASSIGN_OR_RETURN(std::string arch_name, md.GetString("general.architecture"));
  ModelShape s;
  TANDEM_ASSIGN_OR_RETURN(s.arch, ParseArch(arch_name));
  struct Field {
    std::string_view suffix;
    uint32_t* out;
  };
  const Field fields[] = {
      {"block_count", &s.n_layer},
      {"embedding_length", &s.n_embd},
      {"attention.head_count", &s.n_head},
      {"attention.head_count_kv", &s.n_head_kv},
      {"attention.key_length", &s.head_dim},
      {"expert_count", &s.n_expert},
      {"expert_used_count", &s.n_expert_used},
      {"expert_feed_forward_length", &s.n_ff_exp},
      {"context_length", &s.n_ctx_train},
  };
  for (const Field& f : fields) {
    TANDEM_ASSIGN_OR_RETURN(*f.out, md.GetU32(Key(s.arch, f.suffix)));
    if (*f.out == 0) return Status::Error("metadata key '{}' is 0", Key(s.arch, f.suffix));
  }
  std::string rot_key = Key(s.arch, "rope.dimension_count");
  if (md.Has(rot_key)) {
    TANDEM_ASSIGN_OR_RETURN(s.n_rot, md.GetU32(rot_key));
  } else {
    s.n_rot = s.head_dim;
  }
  TANDEM_ASSIGN_OR_RETURN(s.rope_freq_base, md.GetF32(Key(s.arch, "rope.freq_base")));
  TANDEM_ASSIGN_OR_RETURN(s.rms_eps, md.GetF32(Key(s.arch, "attention.layer_norm_rms_epsilon")));
  if (s.n_head % s.n_head_kv != 0) {
    return Status::Error("{} query heads are not a multiple of {} KV heads ({}, {})", s.n_head, s.n_head_kv,
                         Key(s.arch, "attention.head_count"), Key(s.arch, "attention.head_count_kv"));
  }
  if (s.n_expert_used > s.n_expert) {
    return Status::Error("{} = {} exceeds {} = {}", Key(s.arch, "expert_used_count"), s.n_expert_used,
                         Key(s.arch, "expert_count"), s.n_expert);
  }
  if (s.n_rot > s.head_dim || s.n_rot % 2 != 0) {
    return Status::Error("{} = {} must be even and at most the head size {}", rot_key, s.n_rot, s.head_dim);
  }
  if (auto tokens = md.GetArray("tokenizer.ggml.tokens", GgufValueType::STRING); tokens.ok()) {
    s.n_vocab = static_cast<uint32_t>((*tokens)->size());
  } else {
    s.n_vocab = n_vocab_hint;
  }
  return s;
}

void WriteShape(const ModelShape& s, GgufMetadata& md) {
  md.Set(Key(s.arch, "context_length"), GgufValue::U32(s.n_ctx_train));
  md.Set(Key(s.arch, "embedding_length"), GgufValue::U32(s.n_embd));
  md.Set(Key(s.arch, "block_count"), GgufValue::U32(s.n_layer));
  // Both models are MoE in every layer: the dense FFN size is unused, readers take
  // expert_feed_forward_length.
  md.Set(Key(s.arch, "feed_forward_length"), GgufValue::U32(s.n_ff_exp));
  md.Set(Key(s.arch, "attention.head_count"), GgufValue::U32(s.n_head));
  md.Set(Key(s.arch, "attention.head_count_kv"), GgufValue::U32(s.n_head_kv));
  md.Set(Key(s.arch, "attention.key_length"), GgufValue::U32(s.head_dim));
  md.Set(Key(s.arch, "attention.value_length"), GgufValue::U32(s.head_dim));
  md.Set(Key(s.arch, "rope.freq_base"), GgufValue::F32(s.rope_freq_base));
  if (s.arch == Arch::kMiniMaxM2) md.Set(Key(s.arch, "rope.dimension_count"), GgufValue::U32(s.n_rot));
  md.Set(Key(s.arch, "attention.layer_norm_rms_epsilon"), GgufValue::F32(s.rms_eps));
  md.Set(Key(s.arch, "expert_count"), GgufValue::U32(s.n_expert));
  md.Set(Key(s.arch, "expert_used_count"), GgufValue::U32(s.n_expert_used));
  md.Set(Key(s.arch, "expert_feed_forward_length"), GgufValue::U32(s.n_ff_exp));
  if (s.arch == Arch::kMiniMaxM2) md.Set(Key(s.arch, "expert_gating_func"), GgufValue::U32(Traits(s.arch).gating_func));
}

}  // namespace tandem
