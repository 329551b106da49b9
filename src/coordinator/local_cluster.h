// An embedded cluster: N ranks of one model in this process, each an engine on its own
// thread, joined by an in-process collective (coordinator/local_collective.h): over host
// memory for the CPU backend; for CUDA, NCCL between ranks that own a GPU each, or device
// memory summed in place when they share one.
// `tandem run --ranks N`, `tandem bench decode` and the sharding tests use it; a rank that
// fails aborts the group so no other rank hangs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/system_info.h"
#include "coordinator/batch_scheduler.h"
#include "coordinator/local_collective.h"
#include "coordinator/rank_group.h"
#include "net/deferred_collective.h"
#include "net/in_process_group.h"
#include "net/timed_collective.h"

namespace tandem {

class LocalCluster final : public RankGroup {
 public:
  // Plans `n_ranks` shards of the GGUF at `path` and loads one engine per rank;
  // options.n_threads is split between the ranks; CUDA ranks are placed by `gpus`.
  static Expected<std::unique_ptr<LocalCluster>> Load(const std::string& path, int n_ranks,
                                                      const EngineOptions& options,
                                                      MoeSplit moe_split = MoeSplit::kAuto,
                                                      RankGpus gpus = RankGpus::kAuto);

  int size() const { return static_cast<int>(engines_.size()); }
  PlannedShards planned() const override { return planned_; }
  // "in-process" (host memory), "in-process-cuda" (device memory of one GPU), "nccl+in-process"
  // (a GPU per rank).
  std::string collective_name() const override {
    if (placement_.own_gpus) return "nccl+in-process";
    return options_.backend == "cpu" ? "in-process" : "in-process-" + options_.backend;
  }
  // The GPU of each rank (CUDA backend).
  const RankPlacement& placement() const { return placement_; }
  std::vector<RankNode> nodes() const override {
    return std::vector<RankNode>(engines_.size(), RankNode{HostName(), std::string(engines_[0]->backend().name()),
                                                           AvailableMemoryBytes()});
  }
  Engine& rank(int r) { return *engines_[r]; }
  // Time rank r has spent in its collectives so far (waiting for the others included).
  CollectiveTime collective_time(int r) const { return timers_[r]->time(); }
  std::shared_ptr<Engine> leader() override { return engines_[0]; }

  // Benchmarks: rank r's engine joins the others through `collective` (same rank and
  // size) from its next step on.
  Status ReplaceCollective(int r, std::unique_ptr<Collective> collective);

  // Runs fn on every rank at once, rank 0 on the calling thread; returns the first
  // error (naming its rank), after every rank has returned.
  Status RunOnAllRanks(const std::function<Status(Engine&)>& fn);

  // A request on all ranks (engine/rank_loop.h): rank 0 leads, samples and calls
  // on_token; the others follow. Concurrent requests decode together (BatchScheduler).
  Expected<GenerateStats> Generate(std::span<const int32_t> prompt, int64_t max_tokens, const SamplingParams& sampling,
                                   std::span<const int32_t> eog, const TokenCallback& on_token) override;
  int64_t parallel() override { return engines_[0]->step_capacity(); }
  // Benchmarks: `requests` join one batch at once (each after its synthetic_depth
  // positions of synthetic context: Engine::FillContext) and run to their ends; their
  // stats in order. Not while Generate runs.
  Expected<std::vector<GenerateStats>> GenerateTogether(std::vector<SequenceRequest> requests);

 private:
  LocalCluster() = default;
  // Runs lead on rank 0 while the other ranks follow it (a BatchScheduler session).
  Status LeadSession(const std::function<Status(Engine& leader)>& lead);
  // options_ for rank r: its GPU.
  EngineOptions RankOptions(int r) const;
  // Every rank's collective (the backends made, in rank order).
  Expected<std::vector<std::unique_ptr<Collective>>> Connect(std::span<Backend* const> backends);
  // Makes every rank's waits fail at once (a rank failed): in process and, with a GPU
  // each, in NCCL, whose kernels would otherwise wait on the GPU for the failed rank.
  void AbortAll();
  // A new NCCL group for ranks with a GPU each, after one was aborted.
  Status Reconnect();

  PlannedShards planned_;
  EngineOptions options_;  // as loaded (cuda_device: the first rank's GPU)
  RankPlacement placement_;
  std::shared_ptr<InProcessGroup> group_;
  std::vector<std::shared_ptr<Engine>> engines_;
  std::vector<const TimedCollective*> timers_;  // [ranks], owned by the engines
  std::vector<DeferredCollective*> collectives_;  // [ranks] inside timers_: the groups, replaceable
  std::unique_ptr<BatchScheduler> scheduler_;  // destroyed first: its sessions use the engines
};

}  // namespace tandem
