// A worker: one rank of a served model in its own process (`tandem worker`). The
// coordinator tells it which shard to load (LoadShard), then every rank's collective
// address (Start); the worker joins the group and follows the leader's requests
// (engine/rank_loop.h) until the leader shuts the group down.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cluster.grpc.pb.h"
#include "engine/engine.h"
#include "engine/shard.h"
#include "net/deferred_collective.h"
#include "net/ucx_worker.h"

namespace tandem {

struct WorkerOptions {
  std::string model_path;   // the model, or where to put a copy fetched from the coordinator
  std::string coordinator;  // HOST:PORT of its control plane (the model source)
  UcxOptions ucx;
  // Where this rank's shard runs: backend ("cpu" or "cuda"), cuda_device, n_threads (CPU
  // threads, 0: all cores; a LoadShard that names threads overrides it) and
  // ggml_activation_rounding as in EngineOptions. A CUDA rank stages the group's UCX
  // collectives through host memory (engine/host_staged_collective.h).
  EngineOptions engine;
};

class WorkerService final : public cluster::v1::Worker::Service {
 public:
  // Creates this rank's UCX worker, whose address() goes into the Register request.
  static Expected<std::unique_ptr<WorkerService>> Create(const WorkerOptions& options);
  ~WorkerService() override;

  const std::vector<uint8_t>& collective_address() const { return address_; }
  // "registered", "loading", "loaded", "running", "stopped", "failed"
  std::string state() const;
  std::string error() const;  // why it failed
  // Blocks until the group is shut down, Stop is called or the worker failed.
  void WaitUntilDone();
  // Leaves a running group (its collective is aborted: the follower's step ends and the
  // worker fails with `why`); nothing otherwise. From any thread.
  void LeaveGroup(const std::string& why);
  // After a failure: drops the shard and the group, makes a new UCX worker (a new
  // collective address) and goes back to "registered".
  tandem::Status Reset();

  grpc::Status LoadShard(grpc::ServerContext* context, const cluster::v1::LoadShardRequest* request,
                         grpc::ServerWriter<cluster::v1::LoadProgress>* writer) override;
  grpc::Status Start(grpc::ServerContext* context, const cluster::v1::StartRequest* request,
                     cluster::v1::StartReply* reply) override;
  grpc::Status Stop(grpc::ServerContext* context, const cluster::v1::StopRequest* request,
                    cluster::v1::StopReply* reply) override;
  grpc::Status Status(grpc::ServerContext* context, const cluster::v1::StatusRequest* request,
                      cluster::v1::StatusReply* reply) override;

 private:
  explicit WorkerService(const WorkerOptions& options) : options_(options) {}
  void SetState(std::string state, std::string error = "");
  // The model at model_path_: fetched from the coordinator (headers, then this shard's
  // ranges) when there is no copy or only a partial one.
  Expected<GgufModel> OpenModel(const ShardPlan& plan, int rank, grpc::ServerWriter<cluster::v1::LoadProgress>* writer);

  WorkerOptions options_;
  std::string model_path_;  // the first part of the model it runs (a fetched split copy has the source's names)
  std::unique_ptr<UcxWorker> ucx_;  // until Start hands it to the group
  std::vector<uint8_t> address_;
  std::unique_ptr<Engine> engine_;
  DeferredCollective* collective_ = nullptr;  // owned by engine_
  std::thread follower_;

  std::mutex group_mu_;  // LeaveGroup against Reset freeing the engine and its collective
  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  std::string state_ = "registered";
  std::string error_;
  bool done_ = false;
};

}  // namespace tandem
