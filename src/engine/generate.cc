#include "engine/generate.h"

#include "engine/rank_loop.h"
#include "engine/sequence_batch.h"

namespace tandem {

Expected<GenerateStats> Generate(Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                                 const SamplingParams& sampling, std::span<const int32_t> eog,
                                 const TokenCallback& on_token, int64_t synthetic_depth) {
  TANDEM_TRY(CheckRequest(engine, prompt, max_tokens, sampling, synthetic_depth));  // before the others hear of it
  SequenceRequest request = SequenceRequest::Of(prompt, max_tokens, sampling, eog, on_token);
  request.synthetic_depth = synthetic_depth;
  GenerateStats stats;
  request.on_done = [&stats](const GenerateStats& s) { stats = s; };
  std::vector<SequenceRequest> joining;
  joining.push_back(std::move(request));
  TANDEM_TRY(SequenceBatch(engine).LeadToEnd(std::move(joining)));
  return stats;
}

}  // namespace tandem
