#include "coordinator/api_client.h"

#include <fmt/format.h>

namespace tandem {
namespace {

void SetTimeout(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  if (timeout.count() > 0) context.set_deadline(std::chrono::system_clock::now() + timeout);
}

StreamOutcome ReadStream(grpc::ClientContext& context, grpc::ClientReaderInterface<v1::GenerateReply>& reader,
                         const ReplyDeltaCallback& on_delta) {
  StreamOutcome out;
  v1::GenerateReply reply;
  bool cancelled = false;
  while (reader.Read(&reply)) {
    if (cancelled) continue;  // drain what is in flight after the cancel
    if (reply.has_delta()) {
      ++out.deltas;
      if (on_delta && !on_delta(reply.delta())) {
        context.TryCancel();
        cancelled = true;
      }
    } else if (reply.has_final()) {
      out.final = reply.final();
    }
  }
  out.status = reader.Finish();
  if (!out.status.ok()) out.final.reset();
  return out;
}

}  // namespace

std::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "?";
  }
}

ApiClient::ApiClient(std::string address)
    : address_(std::move(address)),
      channel_(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials())),
      stub_(v1::Tandem::NewStub(channel_)) {}

StreamOutcome ApiClient::Generate(const v1::GenerateRequest& request, std::chrono::milliseconds timeout,
                                  const ReplyDeltaCallback& on_delta) {
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  auto reader = stub_->Generate(&context, request);
  return ReadStream(context, *reader, on_delta);
}

StreamOutcome ApiClient::Chat(const v1::ChatRequest& request, std::chrono::milliseconds timeout,
                              const ReplyDeltaCallback& on_delta) {
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  auto reader = stub_->Chat(&context, request);
  return ReadStream(context, *reader, on_delta);
}

Status ApiClient::Explain(const grpc::Status& status) const {
  if (status.ok()) return Status::Ok();
  const std::string_view code = StatusCodeName(status.error_code());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      // The server answered, but its cluster is rebuilding (a worker was lost).
      if (status.error_message().find("cluster") != std::string::npos) {
        return Status::Error("{}: {}: {}", address_, code, status.error_message());
      }
      return Status::Error(
          "cannot reach a tandem server at {} ({}: {}): start one with `tandem serve --model FILE --listen {}`, or "
          "point --server at the address it prints",
          address_, code, status.error_message(), address_);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status::Error("{}: {}: {} (allow more time with --timeout, or ask for fewer tokens with -n)", address_,
                           code, status.error_message());
    case grpc::StatusCode::UNIMPLEMENTED:
      return Status::Error("{}: {}: {} (is it a tandem server?)", address_, code, status.error_message());
    default: return Status::Error("{}: {}: {}", address_, code, status.error_message());
  }
}

}  // namespace tandem
