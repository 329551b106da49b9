#include "coordinator/worker_registry.h"

#include "common/log.h"

namespace tandem {

Expected<std::vector<RegisteredWorker>> WorkerRegistry::TakeWorkers(int n, std::chrono::milliseconds timeout,
                                                                     std::chrono::milliseconds fresh) {
  std::unique_lock lock(mu_);
  std::vector<RegisteredWorker*> ready;
  auto enough = [&] {
    ready.clear();
    const auto now = std::chrono::steady_clock::now();
    for (RegisteredWorker& w : workers_) {
      if (!w.taken && now - w.last_heartbeat <= fresh) ready.push_back(&w);
    }
    return static_cast<int>(ready.size()) >= n;
  };
  // Heartbeats arrive without a notification: look again at least every 200 ms.
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!enough()) {
    if (std::chrono::steady_clock::now() >= give_up) {
      return Status::Unavailable("{} of {} workers joined within {} s: start `tandem worker --join ADDRESS` on "
                                 "each node, or check that they can reach this coordinator",
                                 ready.size(), n, timeout.count() / 1000);
    }
    joined_.wait_for(lock, std::chrono::milliseconds(200));
  }
  std::vector<RegisteredWorker> taken;
  for (int i = 0; i < n; ++i) {
    ready[i]->taken = true;
    taken.push_back(*ready[i]);
  }
  return taken;
}

bool WorkerRegistry::Silent(int id, std::chrono::milliseconds silence) const {
  std::lock_guard lock(mu_);
  if (id < 1 || id > static_cast<int>(workers_.size())) return true;
  return std::chrono::steady_clock::now() - workers_[id - 1].last_heartbeat > silence;
}

int WorkerRegistry::available() const {
  std::lock_guard lock(mu_);
  int n = 0;
  const auto now = std::chrono::steady_clock::now();
  for (const RegisteredWorker& w : workers_) n += !w.taken && now - w.last_heartbeat <= std::chrono::seconds(3);
  return n;
}

grpc::Status WorkerRegistry::Register(grpc::ServerContext* context, const cluster::v1::RegisterRequest* request,
                                      cluster::v1::RegisterReply* reply) {
  if (request->protocol_version() != kProtocolVersion) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        fmt::format("worker speaks control protocol {}, this coordinator {}: run the same tandem "
                                    "build on every node",
                                    request->protocol_version(), kProtocolVersion));
  }
  if (!request->model().missing() && request->model().fingerprint() != fingerprint_) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        fmt::format("worker {} mapped {} ({}), the coordinator serves another model ({}): give "
                                    "every node the same GGUF file",
                                    request->worker_address(), request->model().path(), request->model().fingerprint(),
                                    fingerprint_));
  }
  std::lock_guard lock(mu_);
  RegisteredWorker w;
  w.id = static_cast<int>(workers_.size()) + 1;
  w.info = *request;
  w.last_heartbeat = std::chrono::steady_clock::now();
  workers_.push_back(w);
  Log(Subsystem::kCoord).info("worker {} registered from {} ({}) at {}", w.id, context->peer(), request->host(),
                              request->worker_address());
  reply->set_worker_id(w.id);
  reply->set_heartbeat_ms(kHeartbeatMs);
  joined_.notify_all();
  return grpc::Status::OK;
}

grpc::Status WorkerRegistry::Heartbeat(grpc::ServerContext*, const cluster::v1::HeartbeatRequest* request,
                                       cluster::v1::HeartbeatReply* reply) {
  std::lock_guard lock(mu_);
  const int id = request->worker_id();
  const bool known = id >= 1 && id <= static_cast<int>(workers_.size());
  if (known) workers_[id - 1].last_heartbeat = std::chrono::steady_clock::now();
  reply->set_known(known);
  return grpc::Status::OK;
}

}  // namespace tandem
