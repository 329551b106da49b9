#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <charconv>
#include <iostream>

#include "cli/activations_option.h"
#include "cli/gpus_option.h"
#include "cli/commands.h"
#include "coordinator/completion.h"
#include "coordinator/local_cluster.h"
#include "model/chat_format.h"
#include "model/tokenizer.h"

namespace tandem::cli {
namespace {

struct RunArgs {
  std::string model;
  std::string prompt;
  std::string tokens;  // "1,2,3"
  bool chat = false;
  std::string system;  // chat: system prompt
  bool no_think = false;
  bool print_ids = false;  // the sampled ids instead of text
  std::vector<std::string> stop;
  int64_t n_predict = 256;
  int64_t n_ctx = 4096;
  int64_t n_batch = 256;
  int ranks = 1;
  std::string moe_split = "auto";
  int threads = 0;
  std::string kv = "f16";
  std::string activations = "auto";  // auto | f32 | ggml
  std::string backend = "cpu";  // cpu | cuda
  int device = 0;               // cuda: device ordinal (rank 0's)
  std::string gpus = "auto";    // auto | shared | own
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

// Everything that can be checked before the model is loaded.
Status CheckArgs(const RunArgs& a) {
  const int given = !a.prompt.empty() + !a.tokens.empty() + a.chat;
  if (given != 1) return Status::Error("give exactly one of --prompt TEXT, --tokens 1,2,3 or --chat");
  if (a.n_predict >= a.n_ctx) {
    return Status::Error("-n {} leaves no room for the prompt in a context of {} (--ctx): lower -n or raise --ctx",
                         a.n_predict, a.n_ctx);
  }
  return ValidateSampling(a.sampling);
}

void PrintStats(const CompletionResult& r) {
  const GenerateStats& s = r.stats;
  fmt::print(stderr, "\nprefill: {} tokens, {:.1f} tok/s; decode: {} tokens, {:.2f} tok/s; first token {:.0f} ms; "
             "finished: {}\n",
             s.prompt_tokens, s.prefill_tok_s(), s.generated_tokens, s.decode_tok_s(), r.time_to_first_token_ms,
             FinishReasonName(r.finish_reason));
}

// Streams one completion of `prompt` to stdout.
Expected<CompletionResult> Stream(LocalCluster& cluster, const Tokenizer& tokenizer, std::vector<int32_t> prompt,
                                  const RunArgs& a) {
  CompletionRequest request;
  request.prompt = std::move(prompt);
  request.max_tokens = a.n_predict;
  request.sampling = a.sampling;
  request.stop = a.stop;
  auto result = Complete(cluster, tokenizer, request, [&a](std::string_view text, int32_t) {
    if (!a.print_ids) {
      fmt::print("{}", text);
      std::fflush(stdout);
    }
    return true;
  });
  if (result.ok() && a.print_ids) fmt::print("{}\n", fmt::join(result->tokens, " "));
  return result;
}

// Interactive chat on stdin: one line per user turn, the history kept and re-rendered
// with the model's chat template each turn.
ChatMessage Said(ChatRole role, std::string text) {
  ChatMessage m;
  m.role = role;
  m.content = std::move(text);
  return m;
}

int RunChat(LocalCluster& cluster, const Tokenizer& tokenizer, const RunArgs& a) {
  auto format = DetectChatFormat(cluster.rank(0).metadata());
  if (!format.ok()) {
    fmt::print(stderr, "error: {}\n", format.status().message());
    return 1;
  }
  ChatRequest chat;
  chat.enable_thinking = !a.no_think;
  if (!a.system.empty()) chat.messages.push_back(Said(ChatRole::kSystem, a.system));
  const bool tty = isatty(STDIN_FILENO) != 0;
  std::string line;
  for (;;) {
    if (tty) fmt::print(stderr, "\n> ");
    if (!std::getline(std::cin, line)) return 0;
    if (line.empty()) continue;
    chat.messages.push_back(Said(ChatRole::kUser, line));
    auto text = RenderChat(*format, chat);
    if (!text.ok()) {
      fmt::print(stderr, "error: {}\n", text.status().message());
      return 1;
    }
    auto prompt = tokenizer.Encode(*text, EncodeOptions{.add_special = false, .parse_special = true});
    if (!prompt.ok()) {
      fmt::print(stderr, "error: {}\n", prompt.status().message());
      return 1;
    }
    auto result = Stream(cluster, tokenizer, std::move(prompt).value(), a);
    if (!result.ok()) {
      fmt::print(stderr, "\nerror: {}\n", result.status().message());
      return 1;
    }
    PrintStats(*result);
    chat.messages.push_back(ParseChatOutput(*format, chat, result->text));
  }
}

int RunGenerate(const RunArgs& a) {
  if (Status st = CheckArgs(a); !st.ok()) {
    fmt::print(stderr, "error: {}\n", st.message());
    return 2;
  }
  EngineOptions options;
  options.n_ctx = a.n_ctx;
  options.n_batch = a.n_batch;
  options.n_threads = a.threads;
  options.kv_storage = a.kv == "f32" ? KvStorage::kF32 : KvStorage::kF16;
  options.ggml_activation_rounding = ActivationRoundingOf(a.activations);
  options.backend = a.backend;
  options.cuda_device = a.device;
  auto cluster = LocalCluster::Load(a.model, a.ranks, options, ParseMoeSplit(a.moe_split).value(), RankGpusOf(a.gpus));
  if (!cluster.ok()) {
    fmt::print(stderr, "error: {}\n", cluster.status().message());
    return 1;
  }
  auto tokenizer = Tokenizer::FromMetadata((*cluster)->rank(0).metadata());
  if (!tokenizer.ok()) {
    fmt::print(stderr, "error: {}: {}\n", a.model, tokenizer.status().message());
    return 1;
  }
  if (a.chat) return RunChat(**cluster, *tokenizer, a);
  auto prompt = a.tokens.empty() ? tokenizer->Encode(a.prompt) : ParseTokens(a.tokens);
  if (!prompt.ok()) {
    fmt::print(stderr, "error: {}\n", prompt.status().message());
    return 2;
  }
  auto result = Stream(**cluster, *tokenizer, std::move(prompt).value(), a);
  if (!result.ok()) {
    fmt::print(stderr, "\nerror: {}\n", result.status().message());
    return 1;
  }
  PrintStats(*result);
  return 0;
}

}  // namespace

Command AddRunCommand(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* sub = app.add_subcommand("run", "generate on this machine, the model split over --ranks in-process ranks");
  sub->add_option("-m,--model", a->model, "GGUF model (first part of a split model)")->required();
  sub->add_option("-p,--prompt", a->prompt, "prompt text (special tokens like <|im_start|> are parsed)");
  sub->add_option("--tokens", a->tokens, "prompt as token ids: 1,2,3");
  sub->add_flag("--chat", a->chat, "interactive chat on stdin with the model's chat template; history kept");
  sub->add_option("--system", a->system, "chat: system prompt");
  sub->add_flag("--no-think", a->no_think, "chat: turn thinking off (Qwen3)");
  sub->add_flag("--print-ids", a->print_ids, "print the sampled token ids (end token included) instead of text");
  sub->add_option("--stop", a->stop, "stop string (repeatable): generation ends before it");
  sub->add_option("-n,--n-predict", a->n_predict, "most tokens to generate")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  sub->add_option("--ctx", a->n_ctx, "KV cache positions")->capture_default_str()->check(CLI::Range(1, 1 << 24));
  sub->add_option("--batch", a->n_batch, "most prompt tokens per forward step")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  sub->add_option("--ranks,--workers", a->ranks, "split the model over N ranks in this process (tensor parallel)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  sub->add_option("--moe-split", a->moe_split, "how --ranks split the experts: auto, tp (expert-TP), ep (whole experts)")
      ->check(CLI::IsMember({"auto", "tp", "ep"}))
      ->capture_default_str();
  sub->add_option("--kv", a->kv, "KV cache type")->check(CLI::IsMember({"f16", "f32"}))->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "threads in all (0: all cores)")->check(CLI::Range(0, 1024));
  sub->add_option("--backend", a->backend, "where the forward runs: cpu, or cuda (see --gpus)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  sub->add_option("--device", a->device, "cuda backend: GPU ordinal")->capture_default_str()->check(CLI::Range(0, 64));
  AddGpusOption(sub, &a->gpus);
  AddActivationsOption(sub, &a->activations);
  sub->add_flag_callback("--ggml-activations", [a] { a->activations = "ggml"; }, "same as --activations ggml");
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
