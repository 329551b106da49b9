// How the ranks of a sharded engine run requests together without a per-token control
// message: rank 0 (the leader) broadcasts a small header and the prompt through the
// collective, then every rank runs the same Generate, in which the leader broadcasts each
// sampled token. The other ranks sit in FollowLeader between requests.
#pragma once

#include <cstdint>
#include <span>

#include "common/status.h"
#include "engine/engine.h"
#include "engine/generate.h"

namespace tandem {

// Whether a request can run on `engine`: the checks LeadGenerate makes before the other
// ranks hear of it (a failure after them means a rank or the collective failed).
Status CheckRequest(const Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                    const SamplingParams& sampling);

// Rank 0: runs one request on every rank from position 0 (the KV cache is reset), or,
// for benchmarks, after `synthetic_depth` positions of synthetic context (Engine::FillContext).
// Invalid requests are refused before the other ranks hear of them.
Expected<GenerateStats> LeadGenerate(Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                                     const SamplingParams& sampling, std::span<const int32_t> eog,
                                     const TokenCallback& on_token, int64_t synthetic_depth = 0);

// Rank 0: tells the other ranks to return from FollowLeader.
Status LeadShutdown(Engine& engine);

// Ranks 1..n-1: runs the leader's requests until it shuts the group down (Ok) or a
// collective fails (the error).
Status FollowLeader(Engine& engine);

}  // namespace tandem
