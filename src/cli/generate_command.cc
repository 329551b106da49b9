// tandem generate: stream a completion from a running `tandem serve`.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cstdio>

#include "cli/commands.h"
#include "coordinator/api_client.h"

namespace tandem::cli {
namespace {

struct GenerateArgs {
  std::string server = "127.0.0.1:50051";
  std::string prompt;
  std::string tokens;  // "1,2,3"
  int32_t max_tokens = 0;
  float temperature = 0, top_p = 0, min_p = 0;
  int32_t top_k = 0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  bool chat = false;
  bool print_ids = false;  // the sampled ids instead of text
  double timeout_s = 0;
  // Sampling flags that were given (the others take the server's defaults).
  CLI::Option *temperature_flag = nullptr, *top_k_flag = nullptr, *top_p_flag = nullptr, *min_p_flag = nullptr,
              *seed_flag = nullptr;
};

Expected<std::vector<int32_t>> ParseTokenIds(std::string_view text) {
  std::vector<int32_t> ids;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    int32_t id = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size()) {
      return Status::Error("--tokens: '{}' is not a token id (give ids separated by commas: 1,2,3)", item);
    }
    ids.push_back(id);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  if (ids.empty()) return Status::Error("--tokens is empty: give ids separated by commas: 1,2,3");
  return ids;
}

v1::Sampling SamplingOf(const GenerateArgs& a) {
  v1::Sampling s;
  if (a.temperature_flag->count() > 0) s.set_temperature(a.temperature);
  if (a.top_k_flag->count() > 0) s.set_top_k(a.top_k);
  if (a.top_p_flag->count() > 0) s.set_top_p(a.top_p);
  if (a.min_p_flag->count() > 0) s.set_min_p(a.min_p);
  if (a.seed_flag->count() > 0) s.set_seed(a.seed);
  return s;
}

std::string_view FinishName(v1::FinishReason reason) {
  switch (reason) {
    case v1::FINISH_REASON_LENGTH: return "length";
    case v1::FINISH_REASON_END: return "end of generation";
    case v1::FINISH_REASON_STOP_STRING: return "stop string";
    case v1::FINISH_REASON_CANCELLED: return "cancelled";
    default: return "unspecified";
  }
}

void PrintUsage(const v1::GenerateReply::Final& final) {
  const v1::Usage& u = final.usage();
  fmt::print(stderr,
             "prompt {} tokens, completion {} tokens ({}); time to first token {:.1f} ms; prefill {:.1f} tok/s, "
             "decode {:.2f} tok/s\n",
             u.prompt_tokens(), u.completion_tokens(), FinishName(final.finish_reason()), u.time_to_first_token_ms(),
             u.prefill_tokens_per_second(), u.decode_tokens_per_second());
  for (const v1::ToolCall& call : final.tool_calls()) {
    fmt::print(stderr, "tool call: {} {}\n", call.name(), call.arguments_json());
  }
}

int RunGenerate(const GenerateArgs& a) {
  if (a.prompt.empty() == a.tokens.empty()) {
    fmt::print(stderr, "error: give the prompt as --prompt TEXT or as --tokens 1,2,3 (one of them)\n");
    return 2;
  }
  if (a.chat && !a.tokens.empty()) {
    fmt::print(stderr, "error: --chat sends --prompt as a user message; it does not take --tokens\n");
    return 2;
  }
  ApiClient client(a.server);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(a.timeout_s * 1000));
  bool ends_in_newline = true;
  std::vector<int32_t> ids;
  auto print = [&](const v1::GenerateReply::Delta& delta) {
    ids.insert(ids.end(), delta.tokens().begin(), delta.tokens().end());
    if (!a.print_ids && !delta.text().empty()) {
      std::fwrite(delta.text().data(), 1, delta.text().size(), stdout);
      std::fflush(stdout);
      ends_in_newline = delta.text().back() == '\n';
    }
    return true;
  };
  StreamOutcome outcome;
  if (a.chat) {
    v1::ChatRequest request;
    v1::ChatMessage* user = request.add_messages();
    user->set_role("user");
    user->set_content(a.prompt);
    request.set_max_tokens(a.max_tokens);
    *request.mutable_sampling() = SamplingOf(a);
    for (const std::string& s : a.stop) request.add_stop(s);
    outcome = client.Chat(request, timeout, print);
  } else {
    v1::GenerateRequest request;
    if (!a.tokens.empty()) {
      auto ids = ParseTokenIds(a.tokens);
      if (!ids.ok()) {
        fmt::print(stderr, "error: {}\n", ids.status().message());
        return 2;
      }
      for (int32_t id : *ids) request.add_prompt_tokens(id);
    } else {
      request.set_prompt(a.prompt);
    }
    request.set_max_tokens(a.max_tokens);
    *request.mutable_sampling() = SamplingOf(a);
    for (const std::string& s : a.stop) request.add_stop(s);
    outcome = client.Generate(request, timeout, print);
  }
  if (a.print_ids) fmt::print("{}", fmt::join(ids, " "));
  if (!ends_in_newline || a.print_ids) fmt::print("\n");
  std::fflush(stdout);
  if (!outcome.status.ok()) {
    fmt::print(stderr, "error: {}\n", client.Explain(outcome.status).message());
    return 1;
  }
  if (!outcome.final.has_value()) {
    fmt::print(stderr, "error: {}: the stream ended without its final message\n", a.server);
    return 1;
  }
  PrintUsage(*outcome.final);
  return 0;
}

}  // namespace

Command AddGenerateCommand(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  auto* sub = app.add_subcommand("generate", "stream a completion from a running `tandem serve`");
  sub->add_option("--server,--addr", a->server, "the server's address, HOST:PORT")->capture_default_str();
  sub->add_flag("--print-ids", a->print_ids, "print the sampled token ids instead of text");
  sub->add_option("-p,--prompt", a->prompt, "prompt text (special tokens written in it are parsed)");
  sub->add_option("--tokens", a->tokens, "prompt as token ids: 1,2,3");
  sub->add_option("-n,--max-tokens", a->max_tokens, "tokens to generate (0: the server's default, 256)")
      ->check(CLI::Range(0, 1 << 24));
  a->temperature_flag = sub->add_option("--temp", a->temperature, "temperature (0: greedy) [server: 0.8]");
  a->top_k_flag = sub->add_option("--top-k", a->top_k, "top-k (0: off) [server: 40]");
  a->top_p_flag = sub->add_option("--top-p", a->top_p, "top-p (1: off) [server: 0.95]");
  a->min_p_flag = sub->add_option("--min-p", a->min_p, "min-p (0: off) [server: 0.05]");
  a->seed_flag = sub->add_option("--seed", a->seed, "sampling seed [server: random]");
  sub->add_option("--stop", a->stop, "stop string (repeatable): generation ends before it")->allow_extra_args(false);
  sub->add_flag("--chat", a->chat, "send the prompt as one user message, rendered with the model's chat template");
  sub->add_option("--timeout", a->timeout_s, "give up after SECONDS (0: never)")->check(CLI::NonNegativeNumber);
  return {sub, [a] { return RunGenerate(*a); }};
}

}  // namespace tandem::cli
