// The collectives one decode step (batch 1) runs, with a model's exact message sizes and
// how many of each a token needs: what `tandem bench comm` times.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/arch.h"

namespace tandem::bench {

enum class CommOp { kAllReduce, kGather, kBroadcast };

struct CommMessage {
  std::string what;   // "all-reduce attention output"
  CommOp op;
  int64_t count;      // all-reduce: f32 values; gather: f32 values each rank sends; broadcast: bytes
  int64_t per_token;  // how many a greedy decode step runs (0: an alternative, timed only)

  int64_t bytes() const { return op == CommOp::kBroadcast ? count : count * 4; }  // one rank's message
};

// qwen3moe: 2 all-reduces of n_embd floats per layer (attention, MoE); minimax-m2 adds
// the whole-projection q/k-norm's 2 partial sums of squares. Per token: one gather of
// the sampling summaries (greedy; the 256-candidate one of plain temperature sampling
// is listed with 0 per token) and the leader's 12-byte word {token, decided, go on}.
std::vector<CommMessage> DecodeStepMessages(const ModelShape& shape);

}  // namespace tandem::bench
