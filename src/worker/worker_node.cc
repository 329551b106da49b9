#include "worker/worker_node.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/log.h"
#include "common/system_info.h"
#include "engine/backend_factory.h"
#include "model/gguf_model.h"
#include "model/model_fingerprint.h"

namespace tandem {
namespace {

constexpr int kProtocolVersion = 1;  // WorkerRegistry::kProtocolVersion

// "host:port" with the port replaced.
std::string WithPort(const std::string& address, int port) {
  return address.substr(0, address.rfind(':')) + ":" + std::to_string(port);
}

}  // namespace

Expected<std::unique_ptr<WorkerNode>> WorkerNode::Start(const WorkerNodeOptions& options) {
  std::unique_ptr<WorkerNode> node(new WorkerNode());
  node->options_ = options;
  node->options_.worker.coordinator = options.coordinator;
  TANDEM_ASSIGN_OR_RETURN(node->service_, WorkerService::Create(node->options_.worker));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(node->service_.get());
  node->server_ = builder.BuildAndStart();
  if (!node->server_ || port == 0) {
    return Status::Error("cannot listen on {}: give a free host:port with --listen", options.listen);
  }
  node->address_ = options.advertise.empty() ? WithPort(options.listen, port) : options.advertise;
  TANDEM_TRY(node->Join());
  return node;
}

Status WorkerNode::Join() {
  const WorkerNodeOptions& options = options_;
  cluster::v1::RegisterRequest request;
  request.set_worker_address(address_);
  request.set_host(HostName());
  request.set_backend(options.worker.engine.backend);
  TANDEM_ASSIGN_OR_RETURN(const uint64_t free_memory, BackendFreeMemory(options.worker.engine));
  request.set_memory_bytes(free_memory);
  request.set_protocol_version(kProtocolVersion);
  request.mutable_model()->set_path(options.worker.model_path);
  if (std::filesystem::exists(options.worker.model_path)) {
    TANDEM_ASSIGN_OR_RETURN(GgufModel model, GgufModel::Open(options.worker.model_path));
    request.mutable_model()->set_file_bytes(model.file_bytes());
    request.mutable_model()->set_fingerprint(ModelFingerprint(model));
  } else {
    request.mutable_model()->set_missing(true);  // its shard will come from the coordinator
  }
  const std::vector<uint8_t>& ucx = service_->collective_address();
  request.set_collective_address(std::string(ucx.begin(), ucx.end()));

  coordinator_ = cluster::v1::Coordinator::NewStub(
      grpc::CreateChannel(options.coordinator, grpc::InsecureChannelCredentials()));
  const auto give_up = std::chrono::steady_clock::now() + options.join_timeout;
  cluster::v1::RegisterReply reply;
  for (;;) {
    grpc::ClientContext context;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
    context.set_deadline(std::chrono::system_clock::now() +
                         std::clamp(left, std::chrono::milliseconds(100), std::chrono::milliseconds(5000)));
    context.set_wait_for_ready(true);
    grpc::Status st = coordinator_->Register(&context, request, &reply);
    if (st.ok()) break;
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE && st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return Status::Error("the coordinator at {} refused this worker: {}", options.coordinator, st.error_message());
    }
    if (std::chrono::steady_clock::now() > give_up) {
      return Status::Error("no coordinator answered at {} within {} s: start `tandem serve --nodes N` there first, "
                           "or check --join",
                           options.coordinator, options.join_timeout.count() / 1000);
    }
    Log(Subsystem::kWorker).info("waiting for the coordinator at {}", options.coordinator);
  }
  worker_id_ = reply.worker_id();
  Log(Subsystem::kWorker).info("joined {} as worker {}; serving the worker service on {}", options.coordinator,
                               worker_id_.load(), address_);
  if (!heartbeat_.joinable()) {
    heartbeat_ = std::thread([this, every = reply.heartbeat_ms()] { Heartbeats(std::chrono::milliseconds(every)); });
  }
  return Status::Ok();
}

void WorkerNode::Heartbeats(std::chrono::milliseconds every) {
  auto answered = std::chrono::steady_clock::now();  // the coordinator's last answer
  while (!stopping_) {
    for (auto slept = std::chrono::milliseconds(0); slept < every && !stopping_; slept += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + every);
    cluster::v1::HeartbeatRequest request;
    request.set_worker_id(worker_id_);
    request.set_state(service_->state());
    cluster::v1::HeartbeatReply reply;
    grpc::Status st = coordinator_->Heartbeat(&context, request, &reply);
    const auto now = std::chrono::steady_clock::now();
    if (st.ok()) {
      answered = now;
      continue;
    }
    Log(Subsystem::kWorker).debug("heartbeat: {}", st.error_message());
    if (now - answered >= options_.coordinator_silence) {
      service_->LeaveGroup(fmt::format("the coordinator at {} has not answered for {} ms", options_.coordinator,
                                       std::chrono::duration_cast<std::chrono::milliseconds>(now - answered).count()));
    }
  }
}

Status WorkerNode::Run() {
  for (;;) {
    service_->WaitUntilDone();
    if (service_->state() == "stopped") return Status::Ok();
    Log(Subsystem::kWorker).warn("worker {}: the group failed ({}); joining {} again", worker_id_.load(),
                                 service_->error(), options_.coordinator);
    if (Status st = service_->Reset(); !st.ok()) return st.WithContext(fmt::format("worker {}", worker_id_.load()));
    TANDEM_TRY(Join());
  }
}

WorkerNode::~WorkerNode() {
  stopping_ = true;
  if (heartbeat_.joinable()) heartbeat_.join();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace tandem
