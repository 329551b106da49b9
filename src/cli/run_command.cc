#include <fmt/format.h>

#include <charconv>

#include "cli/commands.h"
#include "engine/generate.h"

namespace tandem::cli {
namespace {

struct RunArgs {
  std::string model;
  std::string tokens;  // "1,2,3"
  int64_t n_predict = 64;
  int64_t n_ctx = 4096;
  int threads = 0;
  std::string kv = "f16";
  bool ggml_activations = false;
  SamplingParams sampling;
};

Expected<std::vector<int32_t>> ParseTokens(const std::string& text) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at < text.size()) {
    size_t comma = text.find(',', at);
    std::string_view item(text.data() + at, (comma == std::string::npos ? text.size() : comma) - at);
    int32_t id = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (ec != std::errc() || end != item.data() + item.size() || item.empty()) {
      return Status::Error("--tokens: '{}' is not a token id (give ids separated by commas: 1,2,3)", item);
    }
    ids.push_back(id);
    at = comma == std::string::npos ? text.size() : comma + 1;
  }
  if (ids.empty()) return Status::Error("--tokens is empty");
  return ids;
}

int RunGenerate(const RunArgs& a) {
  auto prompt = ParseTokens(a.tokens);
  if (!prompt.ok()) {
    fmt::print(stderr, "error: {}\n", prompt.status().message());
    return 2;
  }
  EngineOptions options;
  options.n_ctx = a.n_ctx;
  options.n_threads = a.threads;
  options.kv_storage = a.kv == "f32" ? KvStorage::kF32 : KvStorage::kF16;
  options.ggml_activation_rounding = a.ggml_activations;
  auto engine = Engine::Load(a.model, options);
  if (!engine.ok()) {
    fmt::print(stderr, "error: {}\n", engine.status().message());
    return 1;
  }
  std::vector<int32_t> eog;
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
    if (auto id = (*engine)->metadata().GetU32(key); id.ok()) eog.push_back(static_cast<int32_t>(*id));
  }
  auto stats = Generate(**engine, *prompt, a.n_predict, a.sampling, eog, [](int32_t token) {
    fmt::print("{} ", token);
    std::fflush(stdout);
    return true;
  });
  fmt::print("\n");
  if (!stats.ok()) {
    fmt::print(stderr, "error: {}\n", stats.status().message());
    return 1;
  }
  fmt::print(stderr, "prefill: {} tokens, {:.1f} tok/s; decode: {} tokens, {:.2f} tok/s{}\n", stats->prompt_tokens,
             stats->prefill_tok_s(), stats->generated_tokens, stats->decode_tok_s(),
             stats->stopped_at_eog ? " (stopped at end-of-generation token)" : "");
  return 0;
}

}  // namespace

Command AddRunCommand(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* sub = app.add_subcommand("run", "generate on this machine with the CPU reference engine");
  sub->add_option("-m,--model", a->model, "GGUF model (first part of a split model)")->required();
  sub->add_option("--tokens", a->tokens, "prompt as token ids: 1,2,3 (text prompts come with the tokenizer)")
      ->required();
  sub->add_option("-n,--n-predict", a->n_predict, "tokens to generate")->capture_default_str();
  sub->add_option("--ctx", a->n_ctx, "KV cache positions")->capture_default_str()->check(CLI::Range(1, 1 << 24));
  sub->add_option("--kv", a->kv, "KV cache type")->check(CLI::IsMember({"f16", "f32"}))->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024));
  sub->add_flag("--ggml-activations", a->ggml_activations,
                "round activations like llama.cpp's CPU backend before quantized products (for comparisons)");
  auto& s = a->sampling;
  sub->add_option("--temp", s.temperature, "temperature (0: greedy)")->capture_default_str();
  sub->add_option("--top-k", s.top_k, "top-k (0: off)")->capture_default_str();
  sub->add_option("--top-p", s.top_p, "top-p (1: off)")->capture_default_str();
  sub->add_option("--min-p", s.min_p, "min-p (0: off)")->capture_default_str();
  sub->add_option("--repeat-penalty", s.repetition_penalty, "repetition penalty (1: off)")->capture_default_str();
  sub->add_option("--presence-penalty", s.presence_penalty, "presence penalty (0: off)")->capture_default_str();
  sub->add_option("--repeat-last-n", s.penalty_last_n, "tokens the penalties look back")->capture_default_str();
  sub->add_option("--seed", s.seed, "sampling seed")->capture_default_str();
  return {sub, [a] { return RunGenerate(*a); }};
}

}  // namespace tandem::cli
