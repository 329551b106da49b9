// The text `tandem inspect` prints: architecture, hparams, tokenizer, tensor bytes by
// type, bytes read per decoded token (the per-rank plan is the shard planner's).
#pragma once

#include <string>

#include "common/status.h"
#include "model/gguf_model.h"

namespace tandem {

struct ReportOptions {
  bool list_metadata = false;   // every key with a short value
  bool list_tensors = false;    // every tensor with type, shape, bytes
};

std::string DescribeModel(const GgufModel& model, const ReportOptions& options);

}  // namespace tandem
