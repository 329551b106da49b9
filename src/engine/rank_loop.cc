#include "engine/rank_loop.h"

#include <type_traits>
#include <vector>

namespace tandem {
namespace {

enum class RankOp : int32_t { kGenerate = 1, kShutdown = 2 };

// What the leader broadcasts before each request (the same bytes on every rank: the
// ranks run one build on little-endian machines).
struct RequestHeader {
  RankOp op = RankOp::kGenerate;
  int32_t n_prompt = 0;
  int64_t max_tokens = 0;
  int64_t synthetic_depth = 0;  // positions of synthetic context before the prompt
  SamplingParams sampling;
};
static_assert(std::is_trivially_copyable_v<RequestHeader>);

}  // namespace

Status CheckRequest(const Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                    const SamplingParams& sampling) {
  TANDEM_TRY(ValidateSampling(sampling));
  if (prompt.empty()) return Status::Error("the prompt is empty: give at least one token");
  if (max_tokens < 1) return Status::Error("max tokens {} must be at least 1", max_tokens);
  if (static_cast<int64_t>(prompt.size()) + max_tokens > engine.n_ctx() + 1) {
    return Status::Error("a prompt of {} tokens + {} new ones do not fit the context of {} positions: raise the "
                         "context length or ask for fewer tokens",
                         prompt.size(), max_tokens, engine.n_ctx());
  }
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] < 0 || prompt[i] >= engine.config().shape.n_vocab) {
      return Status::Error("token id {} at index {} is outside the vocabulary of {}", prompt[i], i,
                           engine.config().shape.n_vocab);
    }
  }
  return Status::Ok();
}

Expected<GenerateStats> LeadGenerate(Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                                     const SamplingParams& sampling, std::span<const int32_t> eog,
                                     const TokenCallback& on_token, int64_t synthetic_depth) {
  TANDEM_TRY(CheckRequest(engine, prompt, max_tokens, sampling));
  if (synthetic_depth < 0 || synthetic_depth + static_cast<int64_t>(prompt.size()) + max_tokens > engine.n_ctx() + 1) {
    return Status::Error("a synthetic context of {} positions + {} prompt tokens + {} new ones do not fit the context "
                         "of {} positions",
                         synthetic_depth, prompt.size(), max_tokens, engine.n_ctx());
  }
  RequestHeader header{RankOp::kGenerate, static_cast<int32_t>(prompt.size()), max_tokens, synthetic_depth, sampling};
  Collective& group = engine.collective();
  TANDEM_TRY(group.Broadcast(&header, sizeof(header), 0));
  std::vector<int32_t> tokens(prompt.begin(), prompt.end());
  TANDEM_TRY(group.Broadcast(tokens.data(), tokens.size() * sizeof(int32_t), 0));
  engine.Reset();
  TANDEM_TRY(engine.FillContext(synthetic_depth));
  return Generate(engine, tokens, max_tokens, sampling, eog, on_token);
}

Status LeadShutdown(Engine& engine) {
  RequestHeader header{RankOp::kShutdown, 0, 0, {}};
  return engine.collective().Broadcast(&header, sizeof(header), 0);
}

Status FollowLeader(Engine& engine) {
  Collective& group = engine.collective();
  std::vector<int32_t> prompt;
  for (;;) {
    RequestHeader header;
    TANDEM_TRY(group.Broadcast(&header, sizeof(header), 0));
    if (header.op == RankOp::kShutdown) return Status::Ok();
    if (header.op != RankOp::kGenerate || header.n_prompt < 1) {
      return Status::Error("rank {}: unknown request from the leader (op {}, {} prompt tokens)", group.rank(),
                           static_cast<int>(header.op), header.n_prompt);
    }
    prompt.resize(static_cast<size_t>(header.n_prompt));
    TANDEM_TRY(group.Broadcast(prompt.data(), prompt.size() * sizeof(int32_t), 0));
    engine.Reset();
    TANDEM_TRY(engine.FillContext(header.synthetic_depth));
    auto stats = Generate(engine, prompt, header.max_tokens, header.sampling, {}, [](int32_t) { return true; });
    if (!stats.ok()) return stats.status().WithContext(fmt::format("rank {}", group.rank()));
  }
}

}  // namespace tandem
