// Which bytes of a GGUF file one rank reads: every part's header, the replicated tensors
// whole, and its slices of the split ones (rows, or the columns of each row). A worker
// without the file fetches exactly these into a sparse copy.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "engine/shard.h"
#include "model/gguf_model.h"

namespace tandem {

struct FileRange {
  uint32_t part = 0;    // split part
  uint64_t offset = 0;  // bytes from the start of the part's file
  uint64_t bytes = 0;
};

// Sorted by (part, offset), adjacent and overlapping ranges merged.
Expected<std::vector<FileRange>> ShardFileRanges(const GgufModel& model, const ModelConfig& config,
                                                 const Shard& shard);

// Sorts and merges ranges in place.
void MergeRanges(std::vector<FileRange>& ranges);
// The parts of `want` that `have` does not cover (both merged).
std::vector<FileRange> MissingRanges(const std::vector<FileRange>& want, const std::vector<FileRange>& have);

}  // namespace tandem
