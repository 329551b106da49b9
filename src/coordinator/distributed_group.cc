#include "coordinator/distributed_group.h"

#include <grpcpp/grpcpp.h>

#include <optional>

#include "common/log.h"
#include "common/system_info.h"
#include "engine/backend_factory.h"
#include "engine/rank_loop.h"
#include "net/ucx_collective.h"
#include "worker/shard_proto.h"

namespace tandem {
namespace {

Status FromGrpc(const grpc::Status& st, std::string_view what) {
  return Status::Error("{}: {} ({})", what, st.error_message(), static_cast<int>(st.error_code()));
}

}  // namespace

Expected<GroupCollective> ParseGroupCollective(std::string_view name) {
  if (name == "auto") return GroupCollective::kAuto;
  if (name == "nccl") return GroupCollective::kNccl;
  if (name == "ucx") return GroupCollective::kUcx;
  return Status::Error("unknown collective '{}': use auto, nccl or ucx", name);
}

Expected<std::unique_ptr<DistributedGroup>> DistributedGroup::BringUp(const std::string& path,
                                                                     WorkerRegistry& registry, int n_workers,
                                                                     const DistributedOptions& options) {
  std::unique_ptr<DistributedGroup> g(new DistributedGroup(registry, options));
  g->path_ = path;
  g->n_workers_ = n_workers;
  g->target_workers_ = n_workers;
  TANDEM_TRY(g->PlanAndLoadLeader(n_workers + 1));
  TANDEM_ASSIGN_OR_RETURN(std::vector<RegisteredWorker> workers, registry.TakeWorkers(n_workers, options.wait));
  TANDEM_TRY(g->Connect(std::move(workers)));
  g->running_ = true;
  g->state_ = "serving";
  g->keeper_ = std::thread([raw = g.get()] { raw->Keep(); });
  g->scheduler_ = std::make_unique<BatchScheduler>([raw = g.get()](const auto& lead) { return raw->LeadSession(lead); });
  return g;
}

Status DistributedGroup::PlanAndLoadLeader(int n_ranks) {
  TANDEM_ASSIGN_OR_RETURN(GgufModel model, GgufModel::Open(path_));
  const Tensor* embd = model.Find("token_embd.weight");
  auto config = ReadModelConfig(model.metadata(), embd != nullptr ? static_cast<uint32_t>(embd->ne(1)) : 0);
  if (!config.ok()) return config.status().WithContext(path_);
  PlannedShards planned;
  {
    auto weights = ModelWeights::Bind(model, *config);
    if (!weights.ok()) return weights.status().WithContext(path_);
    auto plan = PlanShards(*config, *weights, n_ranks, options_.moe_split);
    if (!plan.ok()) return plan.status().WithContext(path_);
    planned = std::move(plan).value();
  }
  TANDEM_ASSIGN_OR_RETURN(const uint64_t free_memory, BackendFreeMemory(options_.engine));
  TANDEM_TRY(CheckShardFits(planned, config->shape, 0, options_.engine.n_ctx, options_.engine.n_seq,
                            options_.engine.kv_storage, free_memory,
                            fmt::format("{} (rank 0, this process, {} backend)", HostName(), options_.engine.backend)));
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, MakeBackend(options_.engine, options_.engine.n_threads));
  auto collective = std::make_unique<DeferredCollective>(0, n_ranks);
  DeferredCollective* raw = collective.get();
  auto leader = Engine::Create(std::move(model), std::move(backend), std::move(collective), planned.plan,
                               options_.engine);
  if (!leader.ok()) return leader.status().WithContext(fmt::format("{}: rank 0", path_));
  std::scoped_lock lock(request_mu_, state_mu_);
  leader_ = std::move(leader).value();  // the one replaced goes with its last holder
  leader_memory_bytes_ = free_memory;
  collective_ = raw;
  planned_ = std::move(planned);
  return Status::Ok();
}

Status DistributedGroup::Replan(int n_workers) {
  Log(Subsystem::kCoord)
      .warn("planning the model again over {} node(s): {} worker(s) there of the {} asked for", n_workers + 1,
            n_workers, target_workers_);
  TANDEM_TRY(PlanAndLoadLeader(n_workers + 1));
  n_workers_ = n_workers;
  TANDEM_ASSIGN_OR_RETURN(std::vector<RegisteredWorker> workers,
                          registry_.TakeWorkers(n_workers, std::chrono::seconds(1)));
  return Connect(std::move(workers));
}

std::shared_ptr<Engine> DistributedGroup::leader() {
  std::lock_guard lock(state_mu_);
  return leader_;
}

PlannedShards DistributedGroup::planned() const {
  std::lock_guard lock(state_mu_);
  return planned_;
}

Status DistributedGroup::Connect(std::vector<RegisteredWorker> workers) {
  workers_ = std::move(workers);
  stubs_.clear();
  for (const RegisteredWorker& w : workers_) {
    auto channel = grpc::CreateChannel(w.info.worker_address(), grpc::InsecureChannelCredentials());
    stubs_.push_back(cluster::v1::Worker::NewStub(channel));
  }
  // Every worker must hold its shard: weights plus KV cache within the memory it reported.
  const ModelShape& s = leader_->config().shape;
  for (size_t i = 0; i < workers_.size(); ++i) {
    const cluster::v1::RegisterRequest& info = workers_[i].info;
    TANDEM_TRY(CheckShardFits(planned_, s, static_cast<int>(i) + 1, options_.engine.n_ctx, options_.engine.n_seq,
                              options_.engine.kv_storage, info.memory_bytes(),
                              fmt::format("{} ({})", info.host(), info.worker_address())));
  }
  std::vector<RankNode> nodes = {RankNode{HostName(), std::string(leader_->backend().name()), leader_memory_bytes_}};
  for (const RegisteredWorker& w : workers_) nodes.push_back({w.info.host(), w.info.backend(), w.info.memory_bytes()});
  {
    std::lock_guard lock(state_mu_);
    nodes_ = std::move(nodes);
  }
  std::vector<Status> loaded(workers_.size());
  std::vector<std::thread> loaders;
  for (size_t i = 0; i < workers_.size(); ++i) loaders.emplace_back([&, i] { loaded[i] = LoadWorkerShard(i); });
  auto own = UcxWorker::Create(options_.ucx);
  for (auto& t : loaders) t.join();
  for (const Status& st : loaded) TANDEM_TRY(st);
  if (!own.ok()) return own.status().WithContext("rank 0");
  TANDEM_TRY(StartAll(std::move(own).value()));
  Log(Subsystem::kCoord)
      .info("{} ranks joined over {}", workers_.size() + 1, collective_name() == "ucx" ? "UCX" : "NCCL + UCX");
  return Status::Ok();
}

Status DistributedGroup::LoadWorkerShard(size_t i) {
  const int rank = static_cast<int>(i) + 1;
  const std::string& address = workers_[i].info.worker_address();
  cluster::v1::LoadShardRequest request;
  ToProto(planned_.plan, request.mutable_plan());
  request.set_rank(rank);
  request.set_context_length(options_.engine.n_ctx);
  request.set_parallel_sequences(options_.engine.n_seq);
  request.set_kv_type(options_.engine.kv_storage == KvStorage::kF32 ? "f32" : "f16");
  request.set_threads(options_.worker_threads);
  grpc::ClientContext context;
  auto reader = stubs_[i]->LoadShard(&context, request);
  cluster::v1::LoadProgress progress;
  std::string error;
  while (reader->Read(&progress)) {
    if (!progress.error().empty()) error = progress.error();
    if (!progress.message().empty()) {
      Log(Subsystem::kCoord).info("rank {} ({}): {}", rank, address, progress.message());
    }
  }
  grpc::Status st = reader->Finish();
  if (!error.empty()) return Status::Error("rank {} at {} failed to load: {}", rank, address, error);
  if (!st.ok()) return FromGrpc(st, fmt::format("rank {} at {}: load shard", rank, address));
  return Status::Ok();
}

Expected<bool> DistributedGroup::UseNccl() const {
  if (options_.collective == GroupCollective::kUcx) return false;
  std::string cpu_node;  // the first rank not on a GPU
  if (leader_->backend().name() != "cuda") {
    cpu_node = fmt::format("rank 0 ({}, --backend {})", HostName(), leader_->backend().name());
  }
  for (size_t i = 0; i < workers_.size() && cpu_node.empty(); ++i) {
    const cluster::v1::RegisterRequest& info = workers_[i].info;
    if (info.backend() != "cuda") {
      cpu_node = fmt::format("rank {} ({}, --backend {})", i + 1, info.worker_address(), info.backend());
    }
  }
  if (options_.collective == GroupCollective::kAuto) return cpu_node.empty() && HaveNccl();
  TANDEM_TRY(CheckNcclBuilt().WithContext("--collective nccl"));
  if (!cpu_node.empty()) {
    return Status::Error("--collective nccl needs every rank on a GPU, and {} is not: start it with --backend cuda, "
                         "or serve with --collective ucx",
                         cpu_node);
  }
  return true;
}

std::string DistributedGroup::collective_name() const {
  std::lock_guard lock(state_mu_);
  return collective_name_;
}

// Every rank must be inside Connect at the same time: the workers' Start calls run on
// threads while rank 0 connects here (UCX, then NCCL with the id the request carries).
Status DistributedGroup::StartAll(std::unique_ptr<UcxWorker> own) {
  TANDEM_ASSIGN_OR_RETURN(const bool use_nccl, UseNccl());
  cluster::v1::StartRequest request;
  const std::vector<uint8_t>& mine = own->address();
  request.add_collective_addresses(std::string(mine.begin(), mine.end()));
  for (const RegisteredWorker& w : workers_) request.add_collective_addresses(w.info.collective_address());
  std::vector<std::vector<uint8_t>> addresses;
  for (const std::string& a : request.collective_addresses()) addresses.emplace_back(a.begin(), a.end());
  if (use_nccl) {
    auto id = MakeNcclBootstrapId();
    if (!id.ok()) return id.status().WithContext("rank 0: starting the group's NCCL collective");
    request.set_nccl_unique_id(*id);
  }

  std::vector<Status> started(workers_.size());
  std::vector<std::thread> starters;
  for (size_t i = 0; i < workers_.size(); ++i) {
    starters.emplace_back([&, i] {
      grpc::ClientContext context;
      cluster::v1::StartReply reply;
      grpc::Status st = stubs_[i]->Start(&context, request, &reply);
      if (!st.ok()) {
        started[i] = FromGrpc(st, fmt::format("rank {} at {}: start", i + 1, workers_[i].info.worker_address()));
      }
    });
  }
  auto ucx = UcxCollective::Connect(std::move(own), 0, addresses);
  Expected<std::unique_ptr<Collective>> group =
      ucx.ok() ? JoinGroupCollective(leader_->backend(), std::move(ucx).value(), request.nccl_unique_id())
               : Expected<std::unique_ptr<Collective>>(ucx.status());
  for (auto& t : starters) t.join();
  for (const Status& st : started) TANDEM_TRY(st);
  if (!group.ok()) return group.status().WithContext("rank 0: joining the group");
  {
    std::lock_guard lock(state_mu_);
    collective_name_ = use_nccl ? "nccl+ucx" : "ucx";
  }
  std::lock_guard lock(request_mu_);
  leader_->ForgetRecordedSteps();  // its recorded steps called the last group's NCCL
  return collective_->Attach(std::move(group).value());
}

std::vector<RankNode> DistributedGroup::nodes() const {
  std::lock_guard lock(state_mu_);
  return nodes_;
}

bool DistributedGroup::serving(std::string& why) const {
  std::lock_guard lock(state_mu_);
  why = state_;
  return running_;
}

void DistributedGroup::Fail(std::string why) {
  std::lock_guard lock(state_mu_);
  if (!running_) return;
  Log(Subsystem::kCoord).warn("the group is broken: {}; rebuilding it", why);
  running_ = false;
  state_ = fmt::format("rebuilding: {}", why);
  state_cv_.notify_all();
}

Expected<GenerateStats> DistributedGroup::Generate(std::span<const int32_t> prompt, int64_t max_tokens,
                                                   const SamplingParams& sampling, std::span<const int32_t> eog,
                                                   const TokenCallback& on_token) {
  if (std::string why; !serving(why)) {
    return Status::Unavailable("the cluster is not serving ({}): retry when it is back", why);
  }
  TANDEM_TRY(CheckRequest(*leader(), prompt, max_tokens, sampling));
  return scheduler_->Generate(SequenceRequest::Of(prompt, max_tokens, sampling, eog, on_token));
}

Status DistributedGroup::LeadSession(const std::function<Status(Engine& leader)>& lead) {
  std::lock_guard lock(request_mu_);
  if (std::string why; !serving(why)) {
    return Status::Unavailable("the cluster is not serving ({}): retry when it is back", why);
  }
  const Status led = lead(*leader_);
  if (led.ok()) return led;
  Fail(led.message());  // a rank or the collective failed: the group is broken
  return Status::Unavailable("a rank of the cluster failed ({}); the cluster is rebuilding: retry when it is back",
                             led.message());
}

void DistributedGroup::Release() {
  std::vector<std::unique_ptr<cluster::v1::Worker::Stub>> stubs;
  {
    std::lock_guard lock(request_mu_);
    if (collective_ != nullptr) collective_->Detach();  // null: rank 0 never loaded
    stubs.swap(stubs_);
    workers_.clear();
  }
  for (auto& stub : stubs) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    cluster::v1::StopRequest request;
    cluster::v1::StopReply reply;
    stub->Stop(&context, request, &reply);  // a dead worker just does not answer
  }
}

void DistributedGroup::Keep() {
  // How long a group growing back waits for its own workers to join again after Release.
  constexpr auto kGrowWait = std::chrono::seconds(10);
  std::optional<std::chrono::steady_clock::time_point> short_since;    // the group lacks workers since
  std::optional<std::chrono::steady_clock::time_point> growing_since;  // a re-planned group grows back since
  for (;;) {
    {
      std::unique_lock lock(state_mu_);
      state_cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_ || !running_; });
      if (stopping_) return;
    }
    std::string why;
    if (serving(why)) {
      short_since.reset();
      // A worker that stopped heartbeating may hang a request: abort its collective.
      for (const RegisteredWorker& w : workers_) {
        if (!registry_.Silent(w.id, options_.silence)) continue;
        collective_->Abort();
        Fail(fmt::format("worker {} at {} stopped answering", w.id, w.info.worker_address()));
        break;
      }
      // A re-planned group grows back to the size asked for once enough workers joined.
      if (const int joined = registry_.available(); n_workers_ < target_workers_ &&
                                                    joined >= target_workers_ - n_workers_ && serving(why)) {
        growing_since = std::chrono::steady_clock::now();
        Fail(fmt::format("{} worker(s) joined: growing back to {} nodes", joined, target_workers_ + 1));
      }
      continue;
    }
    Release();
    {
      std::lock_guard lock(state_mu_);
      state_ = fmt::format("waiting for {} worker(s) to join ({})", n_workers_, why);
    }
    const auto now = std::chrono::steady_clock::now();
    if (!short_since) short_since = now;
    Status connected = Status::Ok();
    const int there = registry_.available();
    if (growing_since && there >= target_workers_) {
      growing_since.reset();
      connected = Replan(target_workers_);
    } else if (growing_since && now - *growing_since < kGrowWait) {
      continue;  // the group's own workers are joining again
    } else if (auto workers = registry_.TakeWorkers(n_workers_, std::chrono::seconds(1)); workers.ok()) {
      growing_since.reset();
      connected = Connect(std::move(workers).value());
    } else if (options_.replan.count() > 0 && now - *short_since >= options_.replan && there < n_workers_) {
      growing_since.reset();
      connected = Replan(there);
      short_since.reset();  // a failed re-plan waits another period
    } else {
      continue;  // not yet: look again
    }
    std::lock_guard lock(state_mu_);
    if (!connected.ok()) {
      Log(Subsystem::kCoord).warn("rebuilding the group failed: {}; waiting for workers again", connected.message());
      state_ = fmt::format("rebuilding failed: {}", connected.message());
      continue;
    }
    Log(Subsystem::kCoord).info("the group is whole again: serving");
    running_ = true;
    state_ = "serving";
  }
}

DistributedGroup::~DistributedGroup() {
  scheduler_.reset();  // finishes the requests in flight
  {
    std::lock_guard lock(state_mu_);
    stopping_ = true;
    state_cv_.notify_all();
  }
  if (keeper_.joinable()) keeper_.join();
  std::string why;
  if (serving(why)) {
    std::lock_guard lock(request_mu_);
    if (Status st = LeadShutdown(*leader_); !st.ok()) Log(Subsystem::kCoord).warn("shutdown: {}", st.message());
  }
  Release();
}

}  // namespace tandem
