#include "bench/comm/comm_plan.h"

#include "engine/sampler.h"

namespace tandem::bench {

std::vector<CommMessage> DecodeStepMessages(const ModelShape& shape) {
  const int64_t layers = shape.n_layer, embd = shape.n_embd;
  std::vector<CommMessage> messages = {
      {"all-reduce attention output", CommOp::kAllReduce, embd, layers},
  };
  if (Traits(shape.arch).whole_qk_norm) {
    messages.push_back({"all-reduce q/k-norm sums", CommOp::kAllReduce, 2, layers});
  }
  messages.push_back({"all-reduce MoE output", CommOp::kAllReduce, embd, layers});
  SamplingParams greedy;
  SamplingParams temperature;
  temperature.temperature = 1.0f;
  messages.push_back({"gather sampling summary (greedy)", CommOp::kGather, PackedSummaryFloats(greedy), 1});
  messages.push_back({"gather sampling summary (256 cand.)", CommOp::kGather, PackedSummaryFloats(temperature), 0});
  messages.push_back({"broadcast token word", CommOp::kBroadcast, 3 * sizeof(int32_t), 1});
  return messages;
}

}  // namespace tandem::bench
