// Text generation on a rank group: token ids in, text deltas out. Decodes each sampled
// token without splitting UTF-8 (StreamDecoder), holds back what could begin a stop
// string (StopStringMatcher), leaves end-of-generation tokens out of the text, and says
// why generation ended. `tandem run` and the gRPC API both stream through it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "coordinator/rank_group.h"
#include "model/tokenizer.h"

namespace tandem {

struct CompletionRequest {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings: generation ends before them
};

enum class FinishReason { kLength, kEnd, kStopString, kCancelled };
std::string_view FinishReasonName(FinishReason reason);  // "length", "end", "stop string", "cancelled"

struct CompletionResult {
  FinishReason finish_reason = FinishReason::kLength;
  std::string text;             // everything emitted
  std::vector<int32_t> tokens;  // every sampled token (stop and end tokens included)
  GenerateStats stats;
  double time_to_first_token_ms = 0;
};

// Called with each piece of text ready to show (valid UTF-8, possibly empty) and the
// token that produced it (-1 for the tail flushed at the end); return false to cancel.
using DeltaCallback = std::function<bool(std::string_view text, int32_t token)>;

Expected<CompletionResult> Complete(RankGroup& ranks, const Tokenizer& tokenizer, const CompletionRequest& request,
                                    const DeltaCallback& on_delta);

}  // namespace tandem
