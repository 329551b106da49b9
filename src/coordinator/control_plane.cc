#include "coordinator/control_plane.h"

#include <chrono>

#include "model/model_fingerprint.h"

namespace tandem {

Expected<std::unique_ptr<ControlPlane>> ControlPlane::Start(const std::string& listen,
                                                          const std::string& model_path) {
  std::unique_ptr<ControlPlane> c(new ControlPlane());
  TANDEM_ASSIGN_OR_RETURN(c->model_, GgufModel::Open(model_path));
  c->source_ = std::make_unique<ModelSource>(c->model_);
  c->registry_ = std::make_unique<WorkerRegistry>(ModelFingerprint(c->model_));
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a port in use is an error, not shared
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(c->registry_.get());
  builder.RegisterService(c->source_.get());
  c->server_ = builder.BuildAndStart();
  if (!c->server_ || port == 0) {
    return Status::Error("cannot listen for workers on {}: give a free HOST:PORT with --control", listen);
  }
  c->address_ = listen.substr(0, listen.rfind(':')) + ":" + std::to_string(port);
  return c;
}

ControlPlane::~ControlPlane() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace tandem
