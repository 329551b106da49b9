#include "coordinator/api_service.h"

#include <chrono>

#include <fmt/format.h>

#include "common/log.h"
#include "coordinator/api_messages.h"

namespace tandem {
namespace {

grpc::Status Invalid(const Status& st) { return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, st.message()); }

bool DeadlinePassed(const grpc::ServerContext& context) {
  return context.deadline() <= std::chrono::system_clock::now();
}

// How a call that stopped before its end is reported: the client either let its
// deadline pass or went away.
grpc::Status EndedEarly(const grpc::ServerContext& context, size_t tokens) {
  if (DeadlinePassed(context)) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        fmt::format("the call's deadline passed after {} generated tokens", tokens));
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, fmt::format("cancelled after {} generated tokens", tokens));
}

}  // namespace

grpc::Status ApiService::RunStream(
    grpc::ServerContext* context, const CompletionRequest& request, grpc::ServerWriter<v1::GenerateReply>* writer,
    const std::function<void(const CompletionResult&, v1::GenerateReply::Final&)>& finish) {
  bool write_failed = false;
  auto on_delta = [&](std::string_view text, int32_t token) {
    if (write_failed || context->IsCancelled()) return false;
    v1::GenerateReply reply;
    v1::GenerateReply::Delta* delta = reply.mutable_delta();
    delta->set_text(std::string(text));
    if (token >= 0) delta->add_tokens(token);
    if (!writer->Write(reply)) write_failed = true;
    return !write_failed;
  };
  auto result = model_.Run(request, [context] { return context->IsCancelled(); }, on_delta);
  if (!result.ok()) {
    Log(Subsystem::kCoord).error("request failed: {}", result.status().message());
    const auto code = result.status().unavailable() ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::INTERNAL;
    return grpc::Status(code, result.status().message());
  }
  if (result->finish_reason == FinishReason::kCancelled || write_failed || context->IsCancelled()) {
    Log(Subsystem::kCoord).info("request stopped by its client after {} tokens", result->tokens.size());
    return EndedEarly(*context, result->tokens.size());
  }
  v1::GenerateReply reply;
  v1::GenerateReply::Final* final = reply.mutable_final();
  FillFinal(*result, *final);
  if (finish) finish(*result, *final);
  Log(Subsystem::kCoord)
      .info("request done: {} prompt + {} tokens ({}), {:.1f} tok/s decode", result->stats.prompt_tokens,
            result->stats.generated_tokens, FinishReasonName(result->finish_reason), result->stats.decode_tok_s());
  if (!writer->Write(reply)) return EndedEarly(*context, result->tokens.size());
  return grpc::Status::OK;
}

grpc::Status ApiService::Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                                  grpc::ServerWriter<v1::GenerateReply>* writer) {
  auto completion = CompletionFromGenerate(model_, *request);
  if (!completion.ok()) return Invalid(completion.status());
  if (Status st = model_.Check(*completion); !st.ok()) return Invalid(st);
  return RunStream(context, *completion, writer, nullptr);
}

grpc::Status ApiService::Chat(grpc::ServerContext* context, const v1::ChatRequest* request,
                              grpc::ServerWriter<v1::GenerateReply>* writer) {
  auto chat = ChatFromProto(*request);
  if (!chat.ok()) return Invalid(chat.status());
  auto completion = CompletionFromChat(model_, *chat, *request);
  if (!completion.ok()) return Invalid(completion.status());
  if (Status st = model_.Check(*completion); !st.ok()) return Invalid(st);
  const ChatFormat format = model_.chat_format();
  return RunStream(context, *completion, writer,
                   [&](const CompletionResult& result, v1::GenerateReply::Final& final) {
                     // The stream's text is what the model wrote after the rendered prompt,
                     // stop strings removed: the parser knows whether it began inside <think>.
                     FillChatAnswer(ParseChatOutput(format, *chat, result.text), final);
                   });
}

grpc::Status ApiService::Tokenize(grpc::ServerContext*, const v1::TokenizeRequest* request, v1::TokenizeReply* reply) {
  EncodeOptions options;
  options.parse_special = !request->plain_text();
  if (Status st = CheckUtf8Field(request->text(), "text"); !st.ok()) return Invalid(st);
  auto ids = model_.tokenizer().Encode(request->text(), options);
  if (!ids.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, ids.status().message());
  for (int32_t id : *ids) {
    reply->add_tokens(id);
    reply->add_pieces(std::string(model_.tokenizer().Piece(id)));
  }
  return grpc::Status::OK;
}

grpc::Status ApiService::Health(grpc::ServerContext*, const v1::HealthRequest*, v1::HealthReply* reply) {
  std::string why;
  if (!model_.ranks().serving(why)) {
    reply->set_serving(false);
    reply->set_status(why);
    return grpc::Status::OK;
  }
  reply->set_serving(true);
  const int waiting = model_.waiting();
  if (!model_.busy()) {
    reply->set_status("serving");
  } else {
    const std::string running = fmt::format("serving: generating {} of at most {} request(s) at once",
                                            model_.running(), model_.ranks().parallel());
    reply->set_status(waiting > 0 ? fmt::format("{}, {} waiting", running, waiting) : running);
  }
  return grpc::Status::OK;
}

grpc::Status ApiService::ClusterInfo(grpc::ServerContext*, const v1::ClusterInfoRequest*,
                                     v1::ClusterInfoReply* reply) {
  reply->set_model(model_.model_path());
  reply->set_architecture(std::string(ArchName(model_.config().shape.arch)));
  reply->set_context_length(model_.n_ctx());
  reply->set_parallel_sequences(model_.ranks().parallel());
  reply->set_collective(model_.ranks().collective_name());
  reply->set_plan(model_.PlanText());
  for (const ServedNode& n : model_.Nodes()) {
    v1::NodeInfo* node = reply->add_nodes();
    node->set_rank(n.rank);
    node->set_host(n.host);
    node->set_backend(n.backend);
    node->set_memory_bytes(n.memory_bytes);
    node->set_weight_bytes(n.weight_bytes);
    node->set_token_bytes(n.token_bytes);
    node->set_kv_bytes(n.kv_bytes);
    node->set_shard(n.shard);
  }
  return grpc::Status::OK;
}

Expected<std::unique_ptr<ApiServer>> ApiServer::Start(ServedModel& model, const std::string& listen) {
  std::unique_ptr<ApiServer> s(new ApiServer(model));
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a port in use is an error, not shared
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &s->port_);
  builder.RegisterService(&s->service_);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return Status::Error("cannot listen on {}: the address is malformed or the port is in use (pick another with "
                         "--listen HOST:PORT)",
                         listen);
  }
  const size_t colon = listen.rfind(':');
  s->address_ = fmt::format("{}:{}", colon == std::string::npos ? listen : listen.substr(0, colon), s->port_);
  return s;
}

void ApiServer::Shutdown(std::chrono::milliseconds grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  server_.reset();
}

}  // namespace tandem
