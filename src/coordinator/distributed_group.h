// The ranks of a model spread over processes (or boxes): rank 0 in this process, ranks
// 1..n on workers taken from the registry, joined by a UCX collective. Bring-up: plan the
// shards, have every worker load its shard (progress streamed back), load rank 0, then
// connect everyone at once: over UCX, and for GPU ranks also NCCL, its unique id passed
// in StartRequest. Requests then run through the collective only (engine/rank_loop.h).
//
// The group heals itself: when a rank fails during a request (its collective breaks) or
// a worker's heartbeats stop for `silence` (the in-flight collective is aborted), the
// group is released — surviving workers drop their shards and join again — and rebuilt
// from the workers that join, rank 0 keeping its shard. Meanwhile requests fail as
// unavailable and serving() says what the group waits for. With `replan`, a group still
// short of workers that long after the loss is planned again over the nodes there are
// (rank 0 reloads its larger shard) when their memory holds the larger shards; once
// enough workers have joined again it is planned back to the size asked for.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster.grpc.pb.h"
#include "coordinator/batch_scheduler.h"
#include "coordinator/rank_group.h"
#include "coordinator/worker_registry.h"
#include "net/deferred_collective.h"
#include "net/ucx_worker.h"

namespace tandem {

// What carries the GPU ranks' activations between the nodes.
enum class GroupCollective {
  kAuto,  // NCCL when every rank runs the CUDA backend and this build has NCCL, else UCX
  kNccl,  // NCCL on device memory (recorded into the step's CUDA graph); UCX for host messages
  kUcx,   // UCX on host memory; a CUDA rank stages its device buffers through it
};
Expected<GroupCollective> ParseGroupCollective(std::string_view name);  // auto, nccl, ucx

struct DistributedOptions {
  EngineOptions engine;
  UcxOptions ucx;
  int worker_threads = 0;  // threads each worker uses; 0: its cores
  MoeSplit moe_split = MoeSplit::kAuto;
  GroupCollective collective = GroupCollective::kAuto;
  std::chrono::milliseconds wait = std::chrono::minutes(5);     // for the first workers to join
  std::chrono::milliseconds silence = std::chrono::seconds(2);  // a worker this quiet is lost
  std::chrono::milliseconds replan{0};  // > 0: after this long short of workers, re-plan over those left
};

class DistributedGroup final : public RankGroup {
 public:
  // Takes n_workers from `registry` (which must outlive the group) and brings them up.
  static Expected<std::unique_ptr<DistributedGroup>> BringUp(const std::string& path, WorkerRegistry& registry,
                                                             int n_workers, const DistributedOptions& options);
  // Shuts the followers down and stops the workers.
  ~DistributedGroup() override;

  Expected<GenerateStats> Generate(std::span<const int32_t> prompt, int64_t max_tokens, const SamplingParams& sampling,
                                   std::span<const int32_t> eog, const TokenCallback& on_token) override;
  std::shared_ptr<Engine> leader() override;
  int64_t parallel() override { return leader()->step_capacity(); }
  PlannedShards planned() const override;
  std::string collective_name() const override;  // "ucx", or "nccl+ucx" (device and host messages)
  std::vector<RankNode> nodes() const override;
  bool serving(std::string& why) const override;

 private:
  DistributedGroup(WorkerRegistry& registry, DistributedOptions options)
      : registry_(registry), options_(std::move(options)) {}
  // Plans the model over n_ranks and loads rank 0's shard, replacing the leader.
  Status PlanAndLoadLeader(int n_ranks);
  // The keeper, short of workers for options_.replan: the group planned again over the
  // workers there are (and rank 0), then connected.
  Status Replan(int n_workers);
  // Loads the shards on `workers` and connects them with rank 0.
  Status Connect(std::vector<RegisteredWorker> workers);
  Status LoadWorkerShard(size_t i);
  Status StartAll(std::unique_ptr<UcxWorker> own);
  // Whether the group about to start (rank 0 and workers_) exchanges device memory over
  // NCCL, as options_.collective asks; an error when it asks for NCCL and a rank cannot.
  Expected<bool> UseNccl() const;
  // Drops the group: rank 0 leaves it and the workers are told to (they join again).
  void Release();
  // The keeper thread: watches heartbeats, rebuilds the group after a failure.
  void Keep();
  void Fail(std::string why);
  // A BatchScheduler session on the whole group (the workers always follow).
  Status LeadSession(const std::function<Status(Engine& leader)>& lead);

  WorkerRegistry& registry_;
  const DistributedOptions options_;
  std::string path_;
  int n_workers_ = 0;       // the group's workers now
  int target_workers_ = 0;  // asked for at bring-up; a re-planned group grows back to it
  PlannedShards planned_;                  // guarded by state_mu_ once serving
  std::shared_ptr<Engine> leader_;  // written by the keeper under both locks; leader() copies it
  uint64_t leader_memory_bytes_ = 0;  // free where rank 0's shard lives (host or GPU), before it loaded,
                                      // as workers report theirs when they register
  DeferredCollective* collective_ = nullptr;  // rank 0's, owned by leader_

  std::mutex request_mu_;  // held by a request, and by the keeper while it swaps groups
  std::vector<RegisteredWorker> workers_;  // worker i is rank i + 1
  std::vector<RankNode> nodes_;            // [ranks] of the group as last connected
  std::string collective_name_ = "ucx";    // of the group as last connected
  std::vector<std::unique_ptr<cluster::v1::Worker::Stub>> stubs_;

  mutable std::mutex state_mu_;
  std::condition_variable state_cv_;
  bool running_ = false;   // the group is whole
  bool stopping_ = false;  // the destructor runs
  std::string state_;      // serving(): what the group waits for
  std::thread keeper_;
  std::unique_ptr<BatchScheduler> scheduler_;  // stopped first in the destructor
};

}  // namespace tandem
