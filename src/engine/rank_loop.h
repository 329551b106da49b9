// How the ranks of a sharded engine run requests together without a per-token control
// message: rank 0 (the leader) drives a SequenceBatch (engine/sequence_batch.h), whose
// iterations it broadcasts through the collective; the other ranks follow them in
// FollowLeader, also between requests.
#pragma once

#include <cstdint>
#include <span>

#include "common/status.h"
#include "engine/engine.h"
#include "engine/generate.h"

namespace tandem {

// Whether a request can run on `engine`, after synthetic_depth positions of synthetic
// context (benchmarks): the checks made before the other ranks hear of it (a failure
// after them means a rank or the collective failed).
Status CheckRequest(const Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                    const SamplingParams& sampling, int64_t synthetic_depth = 0);

// Rank 0: tells the other ranks to return from FollowLeader.
Status LeadShutdown(Engine& engine);

// Ranks 1..n-1: runs the leader's iterations (one request or several at once) until it
// shuts the group down (Ok) or a collective fails (the error).
Status FollowLeader(Engine& engine);

}  // namespace tandem
