#include "worker/worker_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <filesystem>

#include "common/log.h"
#include "engine/backend_factory.h"
#include "engine/rank_loop.h"
#include "net/ucx_collective.h"
#include "worker/model_fetch.h"
#include "worker/shard_proto.h"

namespace tandem {
namespace {

grpc::Status Refuse(grpc::StatusCode code, const tandem::Status& st) { return grpc::Status(code, st.message()); }

}  // namespace

Expected<std::unique_ptr<WorkerService>> WorkerService::Create(const WorkerOptions& options) {
  std::unique_ptr<WorkerService> w(new WorkerService(options));
  w->model_path_ = options.model_path;
  TANDEM_ASSIGN_OR_RETURN(w->ucx_, UcxWorker::Create(options.ucx));
  w->address_ = w->ucx_->address();
  return w;
}

WorkerService::~WorkerService() {
  if (collective_ != nullptr) collective_->Abort();
  if (follower_.joinable()) follower_.join();
}

tandem::Status WorkerService::Reset() {
  if (follower_.joinable()) follower_.join();
  {
    std::lock_guard lock(group_mu_);
    engine_.reset();
    collective_ = nullptr;
  }
  TANDEM_ASSIGN_OR_RETURN(ucx_, UcxWorker::Create(options_.ucx));
  address_ = ucx_->address();
  std::lock_guard lock(mu_);
  state_ = "registered";
  error_.clear();
  done_ = false;
  return tandem::Status::Ok();
}

std::string WorkerService::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::string WorkerService::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void WorkerService::SetState(std::string state, std::string error) {
  std::lock_guard lock(mu_);
  Log(Subsystem::kWorker).info("state {}{}{}", state, error.empty() ? "" : ": ", error);
  state_ = std::move(state);
  error_ = std::move(error);
  if (state_ == "stopped" || state_ == "failed") {
    done_ = true;
    done_cv_.notify_all();
  }
}

void WorkerService::WaitUntilDone() {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return done_; });
}

grpc::Status WorkerService::LoadShard(grpc::ServerContext*, const cluster::v1::LoadShardRequest* request,
                                      grpc::ServerWriter<cluster::v1::LoadProgress>* writer) {
  if (state() != "registered") {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "this worker already loaded a shard: restart it");
  }
  SetState("loading");
  auto fail = [&](const tandem::Status& st) {
    SetState("failed", st.message());
    cluster::v1::LoadProgress failed;
    failed.set_error(st.message());
    writer->Write(failed);
    return Refuse(grpc::StatusCode::FAILED_PRECONDITION, st);
  };
  auto plan = FromProto(request->plan());
  if (!plan.ok()) return fail(plan.status());
  const int rank = request->rank();
  if (rank < 1 || rank >= static_cast<int>(plan->size())) {
    return fail(tandem::Status::Error("rank {} is not a worker rank of a {}-rank plan", rank, plan->size()));
  }
  auto model = OpenModel(*plan, rank, writer);
  if (!model.ok()) return fail(model.status());
  EngineOptions options = options_.engine;
  options.n_ctx = request->context_length();
  options.n_seq = std::max<int64_t>(1, request->parallel_sequences());
  options.kv_storage = request->kv_type() == "f32" ? KvStorage::kF32 : KvStorage::kF16;
  auto backend = MakeBackend(options, request->threads() > 0 ? request->threads() : options_.engine.n_threads);
  if (!backend.ok()) return fail(backend.status());
  auto collective = std::make_unique<DeferredCollective>(rank, static_cast<int>(plan->size()));
  collective_ = collective.get();
  auto engine = Engine::Create(std::move(model).value(), std::move(backend).value(), std::move(collective), *plan,
                               options);
  if (!engine.ok()) return fail(engine.status().WithContext(model_path_));
  engine_ = std::move(engine).value();
  SetState("loaded");
  cluster::v1::LoadProgress done;
  done.set_fraction(1.0);
  done.set_done(true);
  done.set_message(fmt::format("rank {} loaded", rank));
  writer->Write(done);
  return grpc::Status::OK;
}

Expected<GgufModel> WorkerService::OpenModel(const ShardPlan& plan, int rank,
                                            grpc::ServerWriter<cluster::v1::LoadProgress>* writer) {
  auto say = [writer](std::string message, double fraction) {
    cluster::v1::LoadProgress progress;
    progress.set_message(std::move(message));
    progress.set_fraction(fraction);
    writer->Write(progress);
  };
  const bool missing = !std::filesystem::exists(model_path_);
  if (!missing && !IsPartialCopy(model_path_)) {
    say("opening " + model_path_, 0);
    return GgufModel::Open(model_path_);
  }
  auto source = cluster::v1::ModelSource::NewStub(
      grpc::CreateChannel(options_.coordinator, grpc::InsecureChannelCredentials()));
  if (missing) {
    say(fmt::format("no model at {}: fetching its headers from the coordinator", model_path_), 0);
    TANDEM_ASSIGN_OR_RETURN(model_path_, FetchModelHeaders(*source, model_path_));
  }
  std::vector<FileRange> want;
  {
    TANDEM_ASSIGN_OR_RETURN(GgufModel headers, GgufModel::Open(model_path_));
    const Tensor* embd = headers.Find("token_embd.weight");
    TANDEM_ASSIGN_OR_RETURN(
        ModelConfig config, ReadModelConfig(headers.metadata(), embd != nullptr ? static_cast<uint32_t>(embd->ne(1)) : 0));
    TANDEM_ASSIGN_OR_RETURN(want, ShardFileRanges(headers, config, plan[rank]));
  }  // unmapped before the copy is written
  say(fmt::format("fetching rank {}'s part of the model into {}", rank, model_path_), 0);
  int last_percent = -1;
  TANDEM_TRY(FetchModelRanges(*source, model_path_, want, [&](uint64_t done, uint64_t all) {
    const int percent = all > 0 ? static_cast<int>(100 * done / all) : 100;
    if (percent / 10 == last_percent / 10) return;
    last_percent = percent;
    say(fmt::format("fetched {}% of {:.1f} MiB", percent, all / 1048576.0), done / std::max(1.0, double(all)));
  }));
  return GgufModel::Open(model_path_);
}

grpc::Status WorkerService::Start(grpc::ServerContext*, const cluster::v1::StartRequest* request,
                                  cluster::v1::StartReply*) {
  if (state() != "loaded" || !ucx_) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "start needs a loaded shard; this worker is " + state());
  }
  std::vector<std::vector<uint8_t>> addresses;
  for (const std::string& a : request->collective_addresses()) addresses.emplace_back(a.begin(), a.end());
  auto ucx = UcxCollective::Connect(std::move(ucx_), collective_->rank(), addresses);
  if (!ucx.ok()) {
    SetState("failed", ucx.status().message());
    return Refuse(grpc::StatusCode::UNAVAILABLE, ucx.status());
  }
  // With an NCCL id every rank joins NCCL now, at once (rank 0 and the other workers too).
  auto group = JoinGroupCollective(engine_->backend(), std::move(ucx).value(), request->nccl_unique_id());
  if (!group.ok()) {
    SetState("failed", group.status().message());
    return Refuse(group.status().unavailable() ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::FAILED_PRECONDITION,
                  group.status());
  }
  engine_->ForgetRecordedSteps();
  if (tandem::Status st = collective_->Attach(std::move(group).value()); !st.ok()) {
    SetState("failed", st.message());
    return Refuse(grpc::StatusCode::INTERNAL, st);
  }
  SetState("running");
  follower_ = std::thread([this] {
    tandem::Status st = FollowLeader(*engine_);
    if (st.ok()) {
      SetState("stopped");
    } else {
      SetState("failed", st.message());
    }
  });
  return grpc::Status::OK;
}

void WorkerService::LeaveGroup(const std::string& why) {
  std::lock_guard lock(group_mu_);  // Reset does not free the collective meanwhile
  if (state() != "running" || collective_ == nullptr) return;
  Log(Subsystem::kWorker).warn("leaving the group: {}", why);
  collective_->Abort();
}

// The coordinator is done with this worker's group. After the leader shut the group down
// the worker has stopped already; otherwise (the group broke elsewhere, or was released
// before it started) a running follower is aborted and the worker joins again.
grpc::Status WorkerService::Stop(grpc::ServerContext*, const cluster::v1::StopRequest*, cluster::v1::StopReply*) {
  const std::string s = state();
  if (s == "running" && collective_ != nullptr) {
    collective_->Abort();
  } else if (s == "registered" || s == "loaded") {
    SetState("failed", "released by the coordinator");
  }
  return grpc::Status::OK;
}

grpc::Status WorkerService::Status(grpc::ServerContext*, const cluster::v1::StatusRequest*,
                                   cluster::v1::StatusReply* reply) {
  std::lock_guard lock(mu_);
  reply->set_state(state_);
  reply->set_error(error_);
  if (engine_) reply->set_kv_bytes(engine_->backend().kv_bytes());
  return grpc::Status::OK;
}

}  // namespace tandem
