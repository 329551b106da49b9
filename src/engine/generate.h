// The generation loop on one engine: prefill the prompt as one batch, then decode one
// token at a time until -n tokens, an end-of-generation token or the callback says stop.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"
#include "engine/sampler.h"

namespace tandem {

struct GenerateStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;  // from the first sampled token to the last
  bool stopped_at_eog = false;

  double prefill_tok_s() const { return prefill_seconds > 0 ? prompt_tokens / prefill_seconds : 0; }
  double decode_tok_s() const {
    return decode_seconds > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_seconds : 0;
  }
};

// Called with each sampled token; return false to stop.
using TokenCallback = std::function<bool(int32_t token)>;

// eog: token ids that end generation (EOS, EOT); they are passed to on_token, not run.
// A sharded engine runs this on every rank with the same prompt: rank 0 samples, calls
// on_token and broadcasts each token to the others (their on_token is not called).
Expected<GenerateStats> Generate(Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                                 const SamplingParams& sampling, std::span<const int32_t> eog,
                                 const TokenCallback& on_token);

}  // namespace tandem
