#include "engine/generate.h"

#include "engine/sequence_batch.h"

namespace tandem {

Expected<GenerateStats> Generate(Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                                 const SamplingParams& sampling, std::span<const int32_t> eog,
                                 const TokenCallback& on_token, int64_t synthetic_depth) {
  TANDEM_TRY(ValidateSampling(sampling));
  if (prompt.empty()) return Status::Error("the prompt is empty: give at least one token");
  if (max_tokens < 1) return Status::Error("-n {} must be at least 1", max_tokens);
  const int64_t n_ctx = engine.n_ctx();
  if (synthetic_depth + static_cast<int64_t>(prompt.size()) + max_tokens > n_ctx + 1) {
    return Status::Error("prompt of {} tokens + -n {} do not fit the context of {} positions: raise --ctx or lower -n",
                         prompt.size(), max_tokens, n_ctx);
  }
  SequenceRequest request = SequenceRequest::Of(prompt, max_tokens, sampling, eog, on_token);
  request.synthetic_depth = synthetic_depth;
  GenerateStats stats;
  request.on_done = [&stats](const GenerateStats& s) { stats = s; };
  SequenceBatch batch(engine);
  std::vector<SequenceRequest> joining;
  joining.push_back(std::move(request));
  TANDEM_TRY(batch.Lead(std::move(joining)));
  while (batch.in_flight() > 0) TANDEM_TRY(batch.Lead({}));
  return stats;
}

}  // namespace tandem
