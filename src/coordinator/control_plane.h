// The coordinator's side of the control plane, served on its own gRPC port (--control):
// the worker registry, where `tandem worker --join` registers and heartbeats, and the
// model source, from which a worker without the file fetches its shard. It lives as long
// as the served model.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "coordinator/model_source.h"
#include "coordinator/worker_registry.h"

namespace tandem {

class ControlPlane {
 public:
  // listen: HOST:PORT (port 0 picks one); model_path: the served model.
  static Expected<std::unique_ptr<ControlPlane>> Start(const std::string& listen, const std::string& model_path);
  ~ControlPlane();

  const std::string& address() const { return address_; }  // with the port bound
  WorkerRegistry& registry() { return *registry_; }

 private:
  ControlPlane() = default;

  GgufModel model_;
  std::unique_ptr<ModelSource> source_;
  std::unique_ptr<WorkerRegistry> registry_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace tandem
