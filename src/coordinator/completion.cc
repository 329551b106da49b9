#include "coordinator/completion.h"

#include <chrono>

#include "model/stop_strings.h"
#include "model/stream_decoder.h"

namespace tandem {

std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return "length";
    case FinishReason::kEnd: return "end";
    case FinishReason::kStopString: return "stop string";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "?";
}

Expected<CompletionResult> Complete(RankGroup& ranks, const Tokenizer& tokenizer, const CompletionRequest& request,
                                    const DeltaCallback& on_delta) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  CompletionResult result;
  StreamDecoder decoder(tokenizer, /*render_special=*/false);
  StopStringMatcher stops(request.stop);
  std::vector<int32_t> eog(tokenizer.end_of_generation().begin(), tokenizer.end_of_generation().end());
  bool cancelled = false, ended = false;
  auto on_token = [&](int32_t token) {
    if (result.tokens.empty()) {
      result.time_to_first_token_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    }
    result.tokens.push_back(token);
    if (tokenizer.IsEndOfGeneration(token)) {
      ended = true;
      return false;
    }
    StopStringMatcher::Result piece = stops.Feed(decoder.Feed(token));
    result.text += piece.emit;
    if (!on_delta(piece.emit, token)) cancelled = true;
    return !piece.stopped && !cancelled;
  };
  TANDEM_ASSIGN_OR_RETURN(result.stats, ranks.Generate(request.prompt, request.max_tokens, request.sampling, eog,
                                                       on_token));
  if (stops.stopped()) {
    result.finish_reason = FinishReason::kStopString;
  } else if (cancelled) {
    result.finish_reason = FinishReason::kCancelled;
  } else {
    result.finish_reason = ended ? FinishReason::kEnd : FinishReason::kLength;
    std::string tail = stops.Feed(decoder.Flush()).emit + stops.Flush();
    if (!tail.empty()) {
      result.text += tail;
      on_delta(tail, -1);
    }
  }
  return result;
}

}  // namespace tandem
