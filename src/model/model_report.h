// The text `tandem inspect` prints: architecture, hparams, tokenizer, tensor bytes by
// type, bytes read per decoded token and an even-split per-node estimate.
#pragma once

#include <string>

#include "common/status.h"
#include "model/gguf_model.h"

namespace tandem {

struct ReportOptions {
  int nodes = 1;                // > 1: per-node memory and bytes per token
  bool list_metadata = false;   // every key with a short value
  bool list_tensors = false;    // every tensor with type, shape, bytes
};

std::string DescribeModel(const GgufModel& model, const ReportOptions& options);

}  // namespace tandem
