#include "coordinator/distributed_group.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "common/log.h"
#include "engine/cpu_backend.h"
#include "engine/rank_loop.h"
#include "net/deferred_collective.h"
#include "net/ucx_collective.h"
#include "worker/shard_proto.h"

namespace tandem {
namespace {

Status FromGrpc(const grpc::Status& st, std::string_view what) {
  return Status::Error("{}: {} ({})", what, st.error_message(), static_cast<int>(st.error_code()));
}

}  // namespace

Expected<std::unique_ptr<DistributedGroup>> DistributedGroup::BringUp(const std::string& path,
                                                                     const std::vector<RegisteredWorker>& workers,
                                                                     const DistributedOptions& options) {
  std::unique_ptr<DistributedGroup> g(new DistributedGroup());
  g->workers_ = workers;
  const int n_ranks = static_cast<int>(workers.size()) + 1;
  TANDEM_ASSIGN_OR_RETURN(GgufModel model, GgufModel::Open(path));
  {
    const Tensor* embd = model.Find("token_embd.weight");
    auto config = ReadModelConfig(model.metadata(), embd != nullptr ? static_cast<uint32_t>(embd->ne(1)) : 0);
    if (!config.ok()) return config.status().WithContext(path);
    auto weights = ModelWeights::Bind(model, *config);
    if (!weights.ok()) return weights.status().WithContext(path);
    auto planned = PlanShards(*config, *weights, n_ranks, options.moe_split);
    if (!planned.ok()) return planned.status().WithContext(path);
    g->planned_ = std::move(planned).value();
  }
  for (const RegisteredWorker& w : workers) {
    auto channel = grpc::CreateChannel(w.info.worker_address(), grpc::InsecureChannelCredentials());
    g->stubs_.push_back(cluster::v1::Worker::NewStub(channel));
  }
  // Workers load in parallel; rank 0 loads meanwhile.
  std::vector<Status> loaded(workers.size());
  std::vector<std::thread> loaders;
  for (size_t i = 0; i < workers.size(); ++i) {
    loaders.emplace_back([&, i] { loaded[i] = g->LoadWorkerShard(i, options); });
  }
  auto collective = std::make_unique<DeferredCollective>(0, n_ranks);
  DeferredCollective& deferred = *collective;
  CpuBackendOptions cpu;
  cpu.n_threads = options.engine.n_threads;
  auto leader = Engine::Create(std::move(model), std::make_unique<CpuBackend>(cpu), std::move(collective),
                               g->planned_.plan, options.engine);
  auto own_ucx = UcxWorker::Create(options.ucx);
  for (auto& t : loaders) t.join();
  if (!leader.ok()) return leader.status().WithContext(fmt::format("{}: rank 0", path));
  g->leader_ = std::move(leader).value();
  for (const Status& st : loaded) TANDEM_TRY(st);
  if (!own_ucx.ok()) return own_ucx.status().WithContext("rank 0");
  TANDEM_TRY(g->StartAll(std::move(own_ucx).value(), deferred));
  g->running_ = true;
  Log(Subsystem::kCoord).info("{} ranks joined over UCX", n_ranks);
  return g;
}

Status DistributedGroup::LoadWorkerShard(size_t i, const DistributedOptions& options) {
  const int rank = static_cast<int>(i) + 1;
  const std::string& address = workers_[i].info.worker_address();
  cluster::v1::LoadShardRequest request;
  ToProto(planned_.plan, request.mutable_plan());
  request.set_rank(rank);
  request.set_context_length(options.engine.n_ctx);
  request.set_kv_type(options.engine.kv_storage == KvStorage::kF32 ? "f32" : "f16");
  request.set_threads(options.worker_threads);
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

// Every rank must be inside Connect at the same time: the workers' Start calls run on
// threads while rank 0 connects here.
Status DistributedGroup::StartAll(std::unique_ptr<UcxWorker> own, DeferredCollective& collective) {
  cluster::v1::StartRequest request;
  const std::vector<uint8_t>& mine = own->address();
  request.add_collective_addresses(std::string(mine.begin(), mine.end()));
  for (const RegisteredWorker& w : workers_) request.add_collective_addresses(w.info.collective_address());
  std::vector<std::vector<uint8_t>> addresses;
  for (const std::string& a : request.collective_addresses()) addresses.emplace_back(a.begin(), a.end());

  std::vector<Status> started(workers_.size());
  std::vector<std::thread> starters;
  for (size_t i = 0; i < workers_.size(); ++i) {
    starters.emplace_back([&, i] {
      grpc::ClientContext context;
      cluster::v1::StartReply reply;
      grpc::Status st = stubs_[i]->Start(&context, request, &reply);
      if (!st.ok()) started[i] = FromGrpc(st, fmt::format("rank {} at {}: start", i + 1, workers_[i].info.worker_address()));
    });
  }
  auto group = UcxCollective::Connect(std::move(own), 0, addresses);
  for (auto& t : starters) t.join();
  for (const Status& st : started) TANDEM_TRY(st);
  if (!group.ok()) return group.status().WithContext("rank 0: joining the group");
  return collective.Attach(std::move(group).value());
}

Expected<GenerateStats> DistributedGroup::Generate(std::span<const int32_t> prompt, int64_t max_tokens,
                                                   const SamplingParams& sampling, std::span<const int32_t> eog,
                                                   const TokenCallback& on_token) {
  if (!running_) return Status::Error("the cluster is down after an earlier failure: restart tandem serve and workers");
  TANDEM_TRY(CheckRequest(*leader_, prompt, max_tokens, sampling));
  auto stats = LeadGenerate(*leader_, prompt, max_tokens, sampling, eog, on_token);
  if (!stats.ok()) running_ = false;  // a rank or the collective failed: the group is broken
  return stats;
}

DistributedGroup::~DistributedGroup() {
  if (running_) {
    if (Status st = LeadShutdown(*leader_); !st.ok()) Log(Subsystem::kCoord).warn("shutdown: {}", st.message());
  }
  for (size_t i = 0; i < stubs_.size(); ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    cluster::v1::StopRequest request;
    cluster::v1::StopReply reply;
    stubs_[i]->Stop(&context, request, &reply);
  }
}

}  // namespace tandem
