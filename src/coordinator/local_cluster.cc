#include "coordinator/local_cluster.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "coordinator/local_collective.h"
#include "engine/backend_factory.h"
#include "common/log.h"
#include "engine/rank_loop.h"
#include "net/deferred_collective.h"
#include "net/in_process_collective.h"

namespace tandem {

Expected<std::unique_ptr<LocalCluster>> LocalCluster::Load(const std::string& path, int n_ranks,
                                                           const EngineOptions& options, MoeSplit moe_split,
                                                           RankGpus gpus) {
  std::unique_ptr<LocalCluster> c(new LocalCluster());
  TANDEM_ASSIGN_OR_RETURN(c->placement_, PlaceRanks(options, n_ranks, gpus));
  {
    TANDEM_ASSIGN_OR_RETURN(GgufModel model, GgufModel::Open(path));
    const Tensor* embd = model.Find("token_embd.weight");
    auto config = ReadModelConfig(model.metadata(), embd != nullptr ? static_cast<uint32_t>(embd->ne(1)) : 0);
    if (!config.ok()) return config.status().WithContext(path);
    auto weights = ModelWeights::Bind(model, *config);
    if (!weights.ok()) return weights.status().WithContext(path);
    auto planned = PlanShards(*config, *weights, n_ranks, moe_split);
    if (!planned.ok()) return planned.status().WithContext(path);
    c->planned_ = std::move(planned).value();
  }
  c->options_ = options;
  if (c->placement_.own_gpus) {
    Log(Subsystem::kCoord)
        .info("{} ranks on GPUs {}..{}, joined by NCCL", n_ranks, options.cuda_device, options.cuda_device + n_ranks - 1);
  }
  c->group_ = std::make_shared<InProcessGroup>(n_ranks);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = options.n_threads > 0 ? options.n_threads : cores;
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<Backend*> backend_ptrs;
  for (int r = 0; r < n_ranks; ++r) {
    const EngineOptions mine = c->RankOptions(r);
    TANDEM_TRY(EnterRankThread(mine));
    auto backend = MakeBackend(mine, std::max(1, threads / n_ranks));
    if (!backend.ok()) return backend.status().WithContext(fmt::format("{}: rank {}", path, r));
    backend_ptrs.push_back(backend->get());
    backends.push_back(std::move(backend).value());
  }
  auto collectives = c->Connect(backend_ptrs);
  if (!collectives.ok()) return collectives.status().WithContext(path);
  for (int r = 0; r < n_ranks; ++r) {
    const EngineOptions mine = c->RankOptions(r);
    TANDEM_TRY(EnterRankThread(mine));
    TANDEM_ASSIGN_OR_RETURN(GgufModel model, GgufModel::Open(path));  // each rank maps the file itself
    auto deferred = std::make_unique<DeferredCollective>(r, n_ranks);
    TANDEM_TRY(deferred->Attach(std::move((*collectives)[r])));
    c->collectives_.push_back(deferred.get());
    auto timed = std::make_unique<TimedCollective>(std::move(deferred));
    c->timers_.push_back(timed.get());
    auto engine = Engine::Create(std::move(model), std::move(backends[r]), std::move(timed), c->planned_.plan, mine);
    if (!engine.ok()) return engine.status().WithContext(fmt::format("{}: rank {}", path, r));
    c->engines_.push_back(std::move(engine).value());
  }
  c->scheduler_ = std::make_unique<BatchScheduler>(
      [cluster = c.get()](const auto& lead) { return cluster->LeadSession(lead); });
  return c;
}

EngineOptions LocalCluster::RankOptions(int r) const {
  EngineOptions mine = options_;
  mine.cuda_device = placement_.devices[r];
  return mine;
}

Expected<std::vector<std::unique_ptr<Collective>>> LocalCluster::Connect(std::span<Backend* const> backends) {
  std::vector<std::unique_ptr<Collective>> collectives;
  for (int r = 0; r < static_cast<int>(backends.size()); ++r) {
    if (placement_.own_gpus) {  // host buffers meet in process; device buffers over NCCL, below
      collectives.push_back(std::make_unique<InProcessCollective>(group_, r));
      continue;
    }
    auto collective = MakeLocalCollective(group_, r, *backends[r], RankOptions(r));
    if (!collective.ok()) return collective.status().WithContext(fmt::format("rank {}", r));
    collectives.push_back(std::move(collective).value());
  }
  if (!placement_.own_gpus) return collectives;
  return JoinLocalNcclGroup(backends, std::move(collectives));
}

Status LocalCluster::RunOnAllRanks(const std::function<Status(Engine&)>& fn) {
  std::vector<Status> results(engines_.size());
  std::atomic<int> first_failed{-1};  // the cause; later failures are its echo in the group
  auto run = [&](int r) {
    results[r] = EnterRankThread(RankOptions(r));
    if (results[r].ok()) results[r] = fn(*engines_[r]);
    int none = -1;
    if (!results[r].ok() && first_failed.compare_exchange_strong(none, r)) AbortAll();
  };
  std::vector<std::thread> threads;
  for (int r = 1; r < size(); ++r) threads.emplace_back(run, r);
  run(0);
  for (auto& t : threads) t.join();
  const int failed = first_failed.load();
  if (failed < 0) return Status::Ok();
  group_->Reset();
  Status st = results[failed].WithContext(fmt::format("rank {}", failed));
  if (placement_.own_gpus) {  // an aborted NCCL group stays broken: the next request gets a new one
    if (Status rebuilt = Reconnect(); !rebuilt.ok()) {
      return Status::Error("{}; rebuilding the ranks' NCCL group then failed too: {}", st.message(), rebuilt.message());
    }
  }
  return st;
}

Status LocalCluster::ReplaceCollective(int r, std::unique_ptr<Collective> collective) {
  if (r < 0 || r >= size()) return Status::Error("rank {} of {}", r, size());
  TANDEM_TRY(collectives_[r]->Attach(std::move(collective)));
  engines_[r]->ForgetRecordedSteps();
  return Status::Ok();
}

void LocalCluster::AbortAll() {
  group_->Abort();
  for (DeferredCollective* c : collectives_) c->Abort();
}

Status LocalCluster::Reconnect() {
  std::vector<Backend*> backends;
  for (auto& e : engines_) backends.push_back(&e->backend());
  for (DeferredCollective* c : collectives_) c->Detach();
  TANDEM_ASSIGN_OR_RETURN(auto collectives, Connect(backends));
  for (int r = 0; r < size(); ++r) TANDEM_TRY(ReplaceCollective(r, std::move(collectives[r])));
  return Status::Ok();
}

Status LocalCluster::LeadSession(const std::function<Status(Engine& leader)>& lead) {
  return RunOnAllRanks([&](Engine& e) -> Status {
    if (e.collective().rank() != 0) return FollowLeader(e);
    const Status led = lead(e);
    const Status shutdown = LeadShutdown(e);  // releases the followers, also after a failure of rank 0's
    return led.ok() ? shutdown : led;
  });
}

Expected<GenerateStats> LocalCluster::Generate(std::span<const int32_t> prompt, int64_t max_tokens,
                                               const SamplingParams& sampling, std::span<const int32_t> eog,
                                               const TokenCallback& on_token) {
  TANDEM_TRY(CheckRequest(*engines_[0], prompt, max_tokens, sampling));
  return scheduler_->Generate(SequenceRequest::Of(prompt, max_tokens, sampling, eog, on_token));
}

Expected<std::vector<GenerateStats>> LocalCluster::GenerateTogether(std::vector<SequenceRequest> requests) {
  for (const SequenceRequest& r : requests) {
    TANDEM_TRY(CheckRequest(*engines_[0], r.prompt, r.max_tokens, r.sampling, r.synthetic_depth));
  }
  std::vector<GenerateStats> stats(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].on_done = [&stats, i](const GenerateStats& s) { stats[i] = s; };
  }
  TANDEM_TRY(LeadSession([&](Engine& leader) { return SequenceBatch(leader).LeadToEnd(std::move(requests)); }));
  return stats;
}

}  // namespace tandem
