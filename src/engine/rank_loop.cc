#include "engine/rank_loop.h"

#include "engine/sequence_batch.h"

namespace tandem {

Status CheckRequest(const Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                    const SamplingParams& sampling, int64_t synthetic_depth) {
  TANDEM_TRY(ValidateSampling(sampling));
  if (prompt.empty()) return Status::Error("the prompt is empty: give at least one token");
  if (max_tokens < 1) return Status::Error("max tokens {} must be at least 1", max_tokens);
  if (static_cast<int64_t>(prompt.size()) + max_tokens > engine.n_ctx() + 1) {
    return Status::Error("a prompt of {} tokens + {} new ones do not fit the context of {} positions: raise the "
                         "context length or ask for fewer tokens",
                         prompt.size(), max_tokens, engine.n_ctx());
  }
  if (synthetic_depth < 0 || synthetic_depth + static_cast<int64_t>(prompt.size()) + max_tokens > engine.n_ctx() + 1) {
    return Status::Error("a synthetic context of {} positions + {} prompt tokens + {} new ones do not fit the context "
                         "of {} positions",
                         synthetic_depth, prompt.size(), max_tokens, engine.n_ctx());
  }
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] < 0 || static_cast<int64_t>(prompt[i]) >= int64_t{engine.config().shape.n_vocab}) {
      return Status::Error("token id {} at index {} is outside the vocabulary of {}", prompt[i], i,
                           engine.config().shape.n_vocab);
    }
  }
  return Status::Ok();
}

Status LeadShutdown(Engine& engine) { return SequenceBatch(engine).LeadShutdown(); }

Status FollowLeader(Engine& engine) { return SequenceBatch(engine).Follow(); }

}  // namespace tandem
