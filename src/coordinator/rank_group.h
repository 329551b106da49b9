// All the ranks of one served model, seen from rank 0: run a request on every rank and
// say what each holds. LocalCluster (ranks as threads of this process) and the
// distributed group (remote workers over a collective) implement it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "coordinator/shard_planner.h"
#include "engine/engine.h"
#include "engine/generate.h"

namespace tandem {

// Where a rank runs.
struct RankNode {
  std::string host;
  std::string backend;        // cpu, cuda
  uint64_t memory_bytes = 0;  // available to it when it loaded
};

class RankGroup {
 public:
  virtual ~RankGroup() = default;

  // One request on all ranks; rank 0 samples and calls on_token (on another thread).
  // Thread-safe: concurrent requests decode together, up to parallel() of them at once;
  // the others wait their turn in arrival order.
  virtual Expected<GenerateStats> Generate(std::span<const int32_t> prompt, int64_t max_tokens,
                                           const SamplingParams& sampling, std::span<const int32_t> eog,
                                           const TokenCallback& on_token) = 0;
  // Requests decoded together at most (the engines' KV slots).
  virtual int64_t parallel() = 0;

  // Rank 0's engine. A group that re-plans replaces it; a replaced engine (its KV cache and
  // its map of the model) is freed once no caller holds it any more.
  virtual std::shared_ptr<Engine> leader() = 0;
  virtual PlannedShards planned() const = 0;  // a copy: a group may re-plan while serving
  virtual std::string collective_name() const = 0;  // "in-process", "ucx", ...
  virtual std::vector<RankNode> nodes() const = 0;   // [ranks]
  // Whether requests can run now, and a line for people saying why not.
  virtual bool serving(std::string& why) const {
    why = "serving";
    return true;
  }
};

}  // namespace tandem
