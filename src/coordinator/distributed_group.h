// The ranks of a model spread over processes (or boxes): rank 0 in this process, ranks
// 1..n on the registered workers, joined by a UCX collective. Bring-up: plan the shards,
// have every worker load its shard (progress streamed back), load rank 0, then connect
// everyone at once. Requests then run through the collective only (engine/rank_loop.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cluster.grpc.pb.h"
#include "coordinator/rank_group.h"
#include "coordinator/worker_registry.h"
#include "net/deferred_collective.h"
#include "net/ucx_worker.h"

namespace tandem {

struct DistributedOptions {
  EngineOptions engine;
  UcxOptions ucx;
  int worker_threads = 0;  // threads each worker uses; 0: its cores
  MoeSplit moe_split = MoeSplit::kAuto;
};

class DistributedGroup final : public RankGroup {
 public:
  static Expected<std::unique_ptr<DistributedGroup>> BringUp(const std::string& path,
                                                             const std::vector<RegisteredWorker>& workers,
                                                             const DistributedOptions& options);
  // Shuts the followers down and stops the workers.
  ~DistributedGroup() override;

  Expected<GenerateStats> Generate(std::span<const int32_t> prompt, int64_t max_tokens, const SamplingParams& sampling,
                                   std::span<const int32_t> eog, const TokenCallback& on_token) override;
  Engine& leader() override { return *leader_; }
  const PlannedShards& planned() const override { return planned_; }
  std::string collective_name() const override { return "ucx"; }
  const std::vector<RegisteredWorker>& workers() const { return workers_; }

 private:
  DistributedGroup() = default;
  Status LoadWorkerShard(size_t i, const DistributedOptions& options);
  Status StartAll(std::unique_ptr<UcxWorker> own, DeferredCollective& collective);

  PlannedShards planned_;
  std::vector<RegisteredWorker> workers_;  // worker i is rank i + 1
  std::vector<std::unique_ptr<cluster::v1::Worker::Stub>> stubs_;
  std::unique_ptr<Engine> leader_;
  bool running_ = false;
};

}  // namespace tandem
