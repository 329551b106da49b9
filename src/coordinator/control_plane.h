// The coordinator's side of the control plane: the worker registry served on its own
// gRPC port (--control), where `tandem worker --join` registers and heartbeats. It lives
// as long as the served model.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "coordinator/worker_registry.h"

namespace tandem {

class ControlPlane {
 public:
  // listen: HOST:PORT (port 0 picks one); fingerprint: the served model's.
  static Expected<std::unique_ptr<ControlPlane>> Start(const std::string& listen, std::string fingerprint);
  ~ControlPlane();

  const std::string& address() const { return address_; }  // with the port bound
  WorkerRegistry& registry() { return *registry_; }

 private:
  ControlPlane() = default;

  std::unique_ptr<WorkerRegistry> registry_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace tandem
