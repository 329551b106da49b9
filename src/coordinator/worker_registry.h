// The workers that joined this coordinator (cluster.proto Coordinator service): each
// registers once with where to reach it, what it has and which model file it mapped,
// then heartbeats. The bring-up waits here until enough have joined.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "cluster.grpc.pb.h"
#include "common/status.h"

namespace tandem {

struct RegisteredWorker {
  int id = 0;
  cluster::v1::RegisterRequest info;
  std::chrono::steady_clock::time_point last_heartbeat;
};

class WorkerRegistry final : public cluster::v1::Coordinator::Service {
 public:
  static constexpr int kProtocolVersion = 1;
  static constexpr int kHeartbeatMs = 1000;

  // fingerprint: the coordinator's model (model/model_fingerprint.h); workers with
  // another file are refused at Register.
  explicit WorkerRegistry(std::string fingerprint) : fingerprint_(std::move(fingerprint)) {}

  // The first n workers to register, in order; an error after `timeout` says how many came.
  Expected<std::vector<RegisteredWorker>> WaitForWorkers(int n, std::chrono::milliseconds timeout);
  // Workers whose last heartbeat is older than `silence`.
  std::vector<int> SilentWorkers(std::chrono::milliseconds silence) const;

  grpc::Status Register(grpc::ServerContext* context, const cluster::v1::RegisterRequest* request,
                        cluster::v1::RegisterReply* reply) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const cluster::v1::HeartbeatRequest* request,
                         cluster::v1::HeartbeatReply* reply) override;

 private:
  const std::string fingerprint_;
  mutable std::mutex mu_;
  std::condition_variable joined_;
  std::vector<RegisteredWorker> workers_;
};

}  // namespace tandem
