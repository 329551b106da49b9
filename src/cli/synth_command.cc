#include <fmt/format.h>

#include "cli/commands.h"
#include "common/progress.h"
#include "model/synth/synth_model.h"
#include "model/synth/synth_vocab.h"

namespace tandem::cli {
namespace {

struct SynthArgs {
  std::string arch;
  std::string recipe = "q8_0";
  std::string out;
  std::string vocab = TANDEM_SOURCE_DIR "/tests/data/vocab-qwen2.gguf";
  uint64_t seed = 1;
  uint32_t k_outliers = 0;
  float k_outlier_scale = 8.0f;
  bool dry_run = false;
  // shape overrides: 0 keeps the real model's value
  uint32_t layers = 0, experts = 0, experts_used = 0, embd = 0, heads = 0, kv_heads = 0, head_dim = 0, rot = 0,
           ff = 0, n_vocab = 0, ctx = 0;
};

int RunSynth(const SynthArgs& a) {
  auto arch = ParseArch(a.arch);
  auto recipe = ParseRecipe(a.recipe);
  for (const Status* st : {&arch.status(), &recipe.status()}) {
    if (!st->ok()) {
      fmt::print(stderr, "error: {}\n", st->message());
      return 2;
    }
  }
  SynthOptions options;
  options.shape = RealShape(*arch);
  ModelShape& s = options.shape;
  for (auto [flag, field] : {std::pair{a.layers, &s.n_layer}, {a.experts, &s.n_expert},
                             {a.experts_used, &s.n_expert_used}, {a.embd, &s.n_embd}, {a.heads, &s.n_head},
                             {a.kv_heads, &s.n_head_kv}, {a.head_dim, &s.head_dim}, {a.ff, &s.n_ff_exp},
                             {a.n_vocab, &s.n_vocab}, {a.ctx, &s.n_ctx_train}}) {
    if (flag != 0) *field = flag;
  }
  // rotary dims follow a shrunk head unless given
  if (a.rot != 0) {
    s.n_rot = a.rot;
  } else if (a.head_dim != 0) {
    s.n_rot = *arch == Arch::kQwen3Moe ? s.head_dim : s.head_dim / 2;
  }
  // the vocabulary file sets the smallest vocab; real sizes are kept when larger
  auto vocab_size = VocabSize(a.vocab);
  if (!vocab_size.ok()) {
    fmt::print(stderr, "error: --vocab: {}\n", vocab_size.status().message());
    return 2;
  }
  if (a.n_vocab == 0) s.n_vocab = std::max(s.n_vocab, *vocab_size);
  options.recipe = *recipe;
  options.vocab_path = a.vocab;
  options.seed = a.seed;
  options.k_outlier_channels = a.k_outliers;
  options.k_outlier_scale = a.k_outlier_scale;

  auto model = SynthModel::Build(options);
  if (!model.ok()) {
    fmt::print(stderr, "error: {}\n", model.status().message());
    return 2;
  }
  TokenBytes b = model->token_bytes();
  uint64_t file_bytes = model->writer().file_bytes();
  fmt::print("{} {} ({} layers, {} experts): {} tensors, file {}, bytes per token {} ({:.3f} GB)\n", a.arch,
             a.recipe, s.n_layer, s.n_expert, model->tensors().size(), FormatBytes(static_cast<double>(file_bytes)),
             FormatBytes(static_cast<double>(b.total())), static_cast<double>(b.total()) / 1e9);
  if (a.dry_run) return 0;
  if (a.out.empty()) {
    fmt::print(stderr, "error: give --out FILE (or --dry-run)\n");
    return 2;
  }
  if (Status st = model->WriteFile(a.out, true); !st.ok()) {
    fmt::print(stderr, "error: {}\n", st.message());
    return 1;
  }
  fmt::print("wrote {}\n", a.out);
  return 0;
}

}  // namespace

Command AddSynthCommand(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  auto* sub = app.add_subcommand("synth", "write a GGUF with a real architecture's shapes and random weights");
  sub->add_option("--arch", a->arch, "qwen3moe (Qwen3-30B-A3B dims) or minimax-m2 (MiniMax-M2 dims)")->required();
  sub->add_option("--recipe", a->recipe, "quant recipe: f32, f16, q8_0, q4_k_m, q3_k_xl, mxfp4")->capture_default_str();
  sub->add_option("-o,--out", a->out, "output GGUF file");
  sub->add_option("--vocab", a->vocab, "vocab-only GGUF giving the tokenizer")->capture_default_str();
  sub->add_option("--seed", a->seed, "random seed")->capture_default_str();
  sub->add_option("--k-outliers", a->k_outliers, "channels per KV head of attn_k given large magnitudes");
  sub->add_option("--k-outlier-scale", a->k_outlier_scale, "their magnitude relative to the others")
      ->capture_default_str();
  sub->add_flag("--dry-run", a->dry_run, "print sizes and bytes per token, write nothing");
  auto shape = [&](const char* flag, uint32_t& field, const char* what) {
    sub->add_option(flag, field, what)->check(CLI::Range(1u, 1u << 24))->group("Shape (default: the real model's)");
  };
  shape("--layers", a->layers, "layers");
  shape("--experts", a->experts, "experts per layer");
  shape("--experts-used", a->experts_used, "experts chosen per token (top-k)");
  shape("--embd", a->embd, "embedding width");
  shape("--heads", a->heads, "query heads");
  shape("--kv-heads", a->kv_heads, "KV heads");
  shape("--head-dim", a->head_dim, "head size");
  shape("--rot", a->rot, "rotary dims per head");
  shape("--ff", a->ff, "expert FFN width");
  shape("--n-vocab", a->n_vocab, "vocabulary size (at least the vocab file's; padded with unused tokens)");
  shape("--ctx", a->ctx, "training context length");
  return {sub, [a] { return RunSynth(*a); }};
}

}  // namespace tandem::cli
