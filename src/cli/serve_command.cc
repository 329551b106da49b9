// tandem serve: load a model on a group of ranks and serve the public gRPC API until
// SIGINT or SIGTERM.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "cli/activations_option.h"
#include "cli/commands.h"
#include "cli/gpus_option.h"
#include "cli/stop_signals.h"
#include "common/log.h"
#include "coordinator/api_service.h"
#include "coordinator/control_plane.h"
#include "coordinator/distributed_group.h"
#include "coordinator/local_cluster.h"
#include "coordinator/served_model.h"
#include "engine/backend_factory.h"

namespace tandem::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string listen = "127.0.0.1:50051";
  int ranks = 1;
  int nodes = 1;                          // > 1: this process is rank 0 of nodes joined by workers
  std::string control = "0.0.0.0:50052";  // where workers join
  int wait_s = 300;                       // for the workers to join
  int replan_s = 0;                       // > 0: after a loss, re-plan over the nodes left after this long
  std::string ucx_tls;
  std::string moe_split = "auto";
  std::string collective = "auto";  // auto | nccl | ucx: between the nodes
  int64_t n_ctx = 4096;
  int64_t parallel = 4;  // requests decoded together, each with its own KV cache of n_ctx
  std::string kv = "f16";
  int threads = 0;
  std::string backend = "cpu";       // cpu | cuda: the local ranks, or rank 0 of --nodes
  int device = 0;                    // cuda: GPU ordinal (rank 0's)
  std::string gpus = "auto";         // --ranks on cuda: auto | shared | own
  std::string activations = "auto";  // auto | f32 | ggml
};

EngineOptions EngineOptionsOf(const ServeArgs& a) {
  EngineOptions options;
  options.n_ctx = a.n_ctx;
  options.n_seq = a.parallel;
  options.n_threads = a.threads;
  options.kv_storage = a.kv == "f32" ? KvStorage::kF32 : KvStorage::kF16;
  options.backend = a.backend;
  options.cuda_device = a.device;
  options.ggml_activation_rounding = ActivationRoundingOf(a.activations);
  return options;
}

// The ranks that serve the model: rank 0 here and `--nodes` - 1 workers that join the
// control plane, or `--ranks N` threads of this process.
Expected<std::unique_ptr<RankGroup>> BuildRankGroup(const ServeArgs& a, std::unique_ptr<ControlPlane>& control) {
  const MoeSplit split = ParseMoeSplit(a.moe_split).value();
  if (a.nodes <= 1) {
    Log(Subsystem::kCoord)
        .info("loading {} on {} local rank(s), {} parallel sequence(s) of context {} ...", a.model, a.ranks, a.parallel,
              a.n_ctx);
    TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<LocalCluster> cluster,
                            LocalCluster::Load(a.model, a.ranks, EngineOptionsOf(a), split, RankGpusOf(a.gpus)));
    return std::unique_ptr<RankGroup>(std::move(cluster));
  }
  TANDEM_ASSIGN_OR_RETURN(control, ControlPlane::Start(a.control, a.model));
  const int n_workers = a.nodes - 1;
  fmt::print("waiting for {} worker(s) at {}: on each node run\n  tandem worker --join {} -m {}\n", n_workers,
             control->address(), control->address(), a.model);
  std::fflush(stdout);
  DistributedOptions options;
  options.engine = EngineOptionsOf(a);
  options.moe_split = split;
  options.collective = ParseGroupCollective(a.collective).value();
  options.ucx.transports = a.ucx_tls;
  options.wait = std::chrono::seconds(a.wait_s);
  options.replan = std::chrono::seconds(a.replan_s);
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<DistributedGroup> group,
                          DistributedGroup::BringUp(a.model, control->registry(), n_workers, options));
  return std::unique_ptr<RankGroup>(std::move(group));
}

int RunServe(const ServeArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  if (a.nodes > 1 && a.ranks > 1) {
    fmt::print(stderr, "error: --nodes and --ranks do not go together: one process per node serves one rank\n");
    return 2;
  }
  if (a.collective == "nccl" && (a.nodes < 2 || a.backend != "cuda")) {
    fmt::print(stderr, "error: --collective nccl joins the GPUs of several nodes: it needs --nodes N (N > 1) and "
                       "--backend cuda on every node\n");
    return 2;
  }
  if (Status nccl = CheckNcclBuilt(); a.collective == "nccl" && !nccl.ok()) {
    fmt::print(stderr, "error: --collective nccl: {}\n", nccl.message());
    return 2;
  }
  std::unique_ptr<ControlPlane> control;  // outlives the ranks: workers heartbeat to it
  auto ranks = BuildRankGroup(a, control);
  if (!ranks.ok()) {
    fmt::print(stderr, "error: {}\n", ranks.status().message());
    return 1;
  }
  auto model = ServedModel::Create(std::move(ranks).value(), a.model);
  if (!model.ok()) {
    fmt::print(stderr, "error: {}\n", model.status().message());
    return 1;
  }
  Log(Subsystem::kCoord)
      .info("loaded in {:.1f} s: {} ({}), chat format {}", std::chrono::duration<double>(
                                                                std::chrono::steady_clock::now() - start)
                                                                .count(),
            a.model, ArchName((*model)->config().shape.arch), ChatFormatName((*model)->chat_format()));
  fmt::print("{}", (*model)->PlanText());
  auto server = ApiServer::Start(**model, a.listen);
  if (!server.ok()) {
    fmt::print(stderr, "error: {}\n", server.status().message());
    return 1;
  }
  fmt::print("serving on {}\n", (*server)->address());
  std::fflush(stdout);
  const int sig = WaitForStopSignal();
  Log(Subsystem::kCoord).info("{}: shutting down (requests still running get 5 s)", sig > 0 ? strsignal(sig) : "stop");
  (*server)->Shutdown(std::chrono::seconds(5));
  Log(Subsystem::kCoord).info("stopped");
  return 0;
}

}  // namespace

Command AddServeCommand(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* sub = app.add_subcommand("serve", "serve a model over the gRPC API (tandem.v1.Tandem)");
  sub->add_option("-m,--model", a->model, "GGUF model (first part of a split model)")->required();
  sub->add_option("--listen", a->listen, "address to listen on, HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  sub->add_option("--ranks", a->ranks, "tensor-parallel ranks in this process")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  sub->add_option("--nodes", a->nodes, "ranks in all: this process plus N-1 `tandem worker --join` processes")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  sub->add_option("--control", a->control, "where workers join, HOST:PORT (with --nodes)")->capture_default_str();
  sub->add_option("--wait", a->wait_s, "seconds to wait for the workers to join")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  sub->add_option("--replan", a->replan_s,
                  "after a worker is lost, seconds to wait for it to rejoin before planning the model again over "
                  "the nodes left, when their memory holds the larger shards (0: wait for it)")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  sub->add_option("--ucx-tls", a->ucx_tls, "UCX transports between the nodes (UCX_TLS syntax, e.g. tcp,self)");
  sub->add_option("--collective", a->collective,
                  "what joins the nodes' GPUs (with --nodes and --backend cuda): nccl (device memory, the step "
                  "recorded in one CUDA graph), ucx (staged through host memory), auto (nccl when every node runs "
                  "--backend cuda and this build has NCCL)")
      ->check(CLI::IsMember({"auto", "nccl", "ucx"}))
      ->capture_default_str();
  sub->add_option("--moe-split", a->moe_split, "how the ranks split the experts: auto, tp, ep")
      ->check(CLI::IsMember({"auto", "tp", "ep"}))
      ->capture_default_str();
  sub->add_option("--ctx", a->n_ctx, "KV cache positions (longest prompt + completion)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  sub->add_option("--parallel", a->parallel,
                  "requests decoded together, one step for all of them; each holds a KV cache of --ctx positions "
                  "(more requests wait their turn)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, Engine::kMaxStepRows));
  sub->add_option("--backend", a->backend,
                  "where the forward runs: cpu, or cuda (--ranks N: see --gpus; with --nodes, rank 0's GPU, "
                  "joined to the others as --collective says)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  sub->add_option("--device", a->device, "cuda backend: GPU ordinal")->capture_default_str()->check(CLI::Range(0, 64));
  AddGpusOption(sub, &a->gpus);
  AddActivationsOption(sub, &a->activations);
  sub->add_option("--kv", a->kv, "KV cache type")->check(CLI::IsMember({"f16", "f32"}))->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "CPU threads, split between the ranks (0: all cores)")
      ->check(CLI::Range(0, 1024));
  return {sub, [a] { return RunServe(*a); }};
}

}  // namespace tandem::cli
