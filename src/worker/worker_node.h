// Everything `tandem worker` runs: the Worker gRPC service on its own port, the join to
// the coordinator (retried until it answers or the join timeout passes), and a heartbeat
// thread. The process lives until the coordinator stops it or the group fails.
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
};

class WorkerNode {
 public:
  // Starts the service and joins the coordinator.
  static Expected<std::unique_ptr<WorkerNode>> Start(const WorkerNodeOptions& options);
  ~WorkerNode();

  int worker_id() const { return worker_id_; }
  const std::string& address() const { return address_; }
  // Blocks until the worker stopped or failed; Ok when it stopped.
  Status Wait();

 private:
  WorkerNode() = default;
  Status Join(const WorkerNodeOptions& options);
  void Heartbeats(std::chrono::milliseconds every);

  std::unique_ptr<WorkerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<cluster::v1::Coordinator::Stub> coordinator_;
  std::string address_;
  int worker_id_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread heartbeat_;
};

}  // namespace tandem
