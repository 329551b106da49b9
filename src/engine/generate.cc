#include "engine/generate.h"

#include <algorithm>
#include <chrono>

namespace tandem {

Expected<GenerateStats> Generate(Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                                 const SamplingParams& sampling, std::span<const int32_t> eog,
                                 const TokenCallback& on_token) {
  TANDEM_TRY(ValidateSampling(sampling));
  if (prompt.empty()) return Status::Error("the prompt is empty: give at least one token");
  if (max_tokens < 1) return Status::Error("-n {} must be at least 1", max_tokens);
  const int64_t n_ctx = engine.n_ctx();
  if (engine.n_past() + static_cast<int64_t>(prompt.size()) + max_tokens > n_ctx + 1) {
    return Status::Error("prompt of {} tokens + -n {} do not fit the context of {} positions: raise --ctx or lower -n",
                         prompt.size(), max_tokens, n_ctx);
  }
  using Clock = std::chrono::steady_clock;
  GenerateStats stats;
  stats.prompt_tokens = static_cast<int64_t>(prompt.size());
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  std::vector<float> logits;
  Sampler sampler(sampling);
  const bool leader = engine.collective().rank() == 0;

  auto t0 = Clock::now();
  TANDEM_TRY(engine.Forward(prompt, false, logits));
  auto t1 = Clock::now();
  stats.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  for (int64_t i = 0; i < max_tokens; ++i) {
    // The leader samples and decides whether to go on; the other ranks follow its word.
    int32_t step[2] = {0, 0};  // token, 1 when the token is run next
    if (leader) {
      step[0] = sampler.Sample(logits, history);
      bool end = std::find(eog.begin(), eog.end(), step[0]) != eog.end();
      bool more = on_token(step[0]);
      if (end) stats.stopped_at_eog = true;
      step[1] = !end && more && i + 1 < max_tokens;
    }
    TANDEM_TRY(engine.collective().Broadcast(step, sizeof(step), 0));
    ++stats.generated_tokens;
    history.push_back(step[0]);
    if (step[1] == 0) break;
    TANDEM_TRY(engine.Forward(std::span(step, 1), false, logits));
  }
  stats.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return stats;
}

}  // namespace tandem
