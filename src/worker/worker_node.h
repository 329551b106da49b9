// Everything `tandem worker` runs: the Worker gRPC service on its own port, the join to
// the coordinator (retried until it answers or the join timeout passes), and a heartbeat
// thread. When its group fails (another rank died, or the coordinator rebuilds the group)
// the worker drops its shard and joins again as a fresh worker; it ends when the leader
// shuts the group down, or when no coordinator takes it back within the join timeout.
// A coordinator that stops answering its heartbeats makes a running worker leave its group.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "worker/worker_service.h"

namespace tandem {

struct WorkerNodeOptions {
  WorkerOptions worker;
  std::string coordinator;                  // host:port of `tandem serve`
  std::string listen = "127.0.0.1:0";       // this worker's service; port 0 picks one
  std::string advertise;                    // host:port the coordinator dials; empty: listen host + port
  std::chrono::milliseconds join_timeout = std::chrono::seconds(60);
  // A running worker whose heartbeats go unanswered this long leaves its group (the
  // coordinator, rank 0, is gone or hangs): its collective is aborted, so a step waiting
  // on rank 0 (an NCCL kernel on the GPU too) ends, and it joins again.
  std::chrono::milliseconds coordinator_silence = std::chrono::seconds(2);
};

class WorkerNode {
 public:
  // Starts the service and joins the coordinator.
  static Expected<std::unique_ptr<WorkerNode>> Start(const WorkerNodeOptions& options);
  ~WorkerNode();

  int worker_id() const { return worker_id_; }
  const std::string& address() const { return address_; }
  // Serves groups until the leader shuts one down (Ok) or rejoining fails (the error).
  Status Run();

 private:
  WorkerNode() = default;
  Status Join();
  void Heartbeats(std::chrono::milliseconds every);

  WorkerNodeOptions options_;

  std::unique_ptr<WorkerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<cluster::v1::Coordinator::Stub> coordinator_;
  std::string address_;
  std::atomic<int> worker_id_{0};
  std::atomic<bool> stopping_{false};
  std::thread heartbeat_;
};

}  // namespace tandem
