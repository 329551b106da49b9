// One request on an engine (slot 0, from an empty context): prefill the prompt as one
// batch, then decode one token at a time until -n tokens, an end-of-generation token or
// the callback says stop. engine/sequence_batch.h runs several at once.
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
  int64_t widest_step = 0;    // most sequences in one of its decode steps (it included)

  double prefill_tok_s() const { return prefill_seconds > 0 ? prompt_tokens / prefill_seconds : 0; }
  double decode_tok_s() const {
    return decode_seconds > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_seconds : 0;
  }
};

// Called with each sampled token; return false to stop.
using TokenCallback = std::function<bool(int32_t token)>;

// eog: token ids that end generation (EOS, EOT); they are passed to on_token, not run.
// On a sharded engine this runs on rank 0 while the other ranks are in FollowLeader
// (engine/rank_loop.h); rank 0 samples and calls on_token. An invalid request is refused
// before the other ranks hear of it (CheckRequest). synthetic_depth: benchmarks,
// positions of synthetic context before the prompt (Engine::FillContext).
Expected<GenerateStats> Generate(Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                                 const SamplingParams& sampling, std::span<const int32_t> eog,
                                 const TokenCallback& on_token, int64_t synthetic_depth = 0);

}  // namespace tandem
