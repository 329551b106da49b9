// The workers that joined this coordinator (cluster.proto Coordinator service): each
// registers with where to reach it, what it has and which model file it mapped, then
// heartbeats. A bring-up takes the workers it needs from here; a worker whose group
// failed registers again as a new worker.
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
  bool taken = false;  // by a bring-up
};

class WorkerRegistry final : public cluster::v1::Coordinator::Service {
 public:
  static constexpr int kProtocolVersion = 1;
  static constexpr int kHeartbeatMs = 1000;

  // fingerprint: the coordinator's model (model/model_fingerprint.h); workers with
  // another file are refused at Register.
  explicit WorkerRegistry(std::string fingerprint) : fingerprint_(std::move(fingerprint)) {}

  // Takes n workers not taken before whose heartbeats are fresh (within `fresh`), in the
  // order they registered, waiting for them up to `timeout`; the error says how many came.
  Expected<std::vector<RegisteredWorker>> TakeWorkers(int n, std::chrono::milliseconds timeout,
                                                      std::chrono::milliseconds fresh = std::chrono::seconds(3));
  // Whether worker `id`'s last heartbeat is older than `silence`.
  bool Silent(int id, std::chrono::milliseconds silence) const;
  // Workers ready to be taken (for status lines).
  int available() const;

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
