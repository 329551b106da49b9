// The public gRPC API (proto/tandem.proto, service tandem.v1.Tandem) over a ServedModel,
// on gRPC's synchronous server: each call runs on a gRPC thread, generations take turns
// on the model. A request is checked before any rank hears of it (INVALID_ARGUMENT with
// the reason); a failing engine gives INTERNAL; a cancelled or expired call stops
// generating within one token and ends CANCELLED or DEADLINE_EXCEEDED.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/status.h"
#include "coordinator/served_model.h"
#include "tandem.grpc.pb.h"

namespace tandem {

class ApiService final : public v1::Tandem::Service {
 public:
  explicit ApiService(ServedModel& model) : model_(model) {}

  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateReply>* writer) override;
  grpc::Status Chat(grpc::ServerContext* context, const v1::ChatRequest* request,
                    grpc::ServerWriter<v1::GenerateReply>* writer) override;
  grpc::Status Tokenize(grpc::ServerContext* context, const v1::TokenizeRequest* request,
                        v1::TokenizeReply* reply) override;
  grpc::Status Health(grpc::ServerContext* context, const v1::HealthRequest* request,
                      v1::HealthReply* reply) override;
  grpc::Status ClusterInfo(grpc::ServerContext* context, const v1::ClusterInfoRequest* request,
                           v1::ClusterInfoReply* reply) override;

 private:
  // Runs a checked completion and streams it; `finish` adds to the final message before
  // it is sent (Chat: the parsed answer).
  grpc::Status RunStream(grpc::ServerContext* context, const CompletionRequest& request,
                         grpc::ServerWriter<v1::GenerateReply>* writer,
                         const std::function<void(const CompletionResult&, v1::GenerateReply::Final&)>& finish);

  ServedModel& model_;
};

// A listening gRPC server with the API service.
class ApiServer {
 public:
  // listen: "host:port"; port 0 lets the system pick one (see port()).
  static Expected<std::unique_ptr<ApiServer>> Start(ServedModel& model, const std::string& listen);

  int port() const { return port_; }
  // The listen address with the port actually bound.
  const std::string& address() const { return address_; }

  // Stops taking calls; calls still running after `grace` are cancelled (and stop
  // generating within one token). Returns when every call has ended.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  ApiServer(ServedModel& model) : service_(model) {}

  ApiService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
};

}  // namespace tandem
