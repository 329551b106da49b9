// A client of the public API (tandem.v1.Tandem) for `tandem generate` and the tests:
// streams a Generate or Chat call, hands each delta to a callback, and turns a failed
// call into a message that names the server's address and the likely fix.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/status.h"
#include "tandem.grpc.pb.h"

namespace tandem {

// How one streamed call ended: its gRPC status and, when it completed, the final message.
struct StreamOutcome {
  grpc::Status status;
  std::optional<v1::GenerateReply::Final> final;
  int deltas = 0;
  bool ok() const { return status.ok() && final.has_value(); }
};

// Return false to cancel the call.
using ReplyDeltaCallback = std::function<bool(const v1::GenerateReply::Delta& delta)>;

class ApiClient {
 public:
  explicit ApiClient(std::string address);

  const std::string& address() const { return address_; }
  v1::Tandem::Stub& stub() { return *stub_; }

  // timeout: 0 = none. A callback that returns false cancels the call (CANCELLED).
  StreamOutcome Generate(const v1::GenerateRequest& request, std::chrono::milliseconds timeout,
                         const ReplyDeltaCallback& on_delta);
  StreamOutcome Chat(const v1::ChatRequest& request, std::chrono::milliseconds timeout,
                     const ReplyDeltaCallback& on_delta);

  // A failed call's status as an error naming the address: "cannot reach ..." with how
  // to start a server for UNAVAILABLE, the server's reason for the others.
  Status Explain(const grpc::Status& status) const;

 private:
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Tandem::Stub> stub_;
};

// "INVALID_ARGUMENT", "UNAVAILABLE", ...
std::string_view StatusCodeName(grpc::StatusCode code);

}  // namespace tandem
