// tandem serve: load a model on a group of ranks and serve the public gRPC API until
// SIGINT or SIGTERM.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "cli/stop_signals.h"
#include "common/log.h"
#include "coordinator/api_service.h"
#include "coordinator/local_cluster.h"
#include "coordinator/served_model.h"

namespace tandem::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string listen = "127.0.0.1:50051";
  int ranks = 1;
  int64_t n_ctx = 4096;
  std::string kv = "f16";
  int threads = 0;
};

EngineOptions EngineOptionsOf(const ServeArgs& a) {
  EngineOptions options;
  options.n_ctx = a.n_ctx;
  options.n_threads = a.threads;
  options.kv_storage = a.kv == "f32" ? KvStorage::kF32 : KvStorage::kF16;
  return options;
}

// The ranks that serve the model: `--ranks N` threads of this process. (Remote workers
// are another way to build a RankGroup.)
Expected<std::unique_ptr<RankGroup>> BuildRankGroup(const ServeArgs& a) {
  Log(Subsystem::kCoord).info("loading {} on {} local rank(s), context {} ...", a.model, a.ranks, a.n_ctx);
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<LocalCluster> cluster,
                          LocalCluster::Load(a.model, a.ranks, EngineOptionsOf(a)));
  return std::unique_ptr<RankGroup>(std::move(cluster));
}

int RunServe(const ServeArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  auto ranks = BuildRankGroup(a);
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
  sub->add_option("--ctx", a->n_ctx, "KV cache positions (longest prompt + completion)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  sub->add_option("--kv", a->kv, "KV cache type")->check(CLI::IsMember({"f16", "f32"}))->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "CPU threads, split between the ranks (0: all cores)")
      ->check(CLI::Range(0, 1024));
  return {sub, [a] { return RunServe(*a); }};
}

}  // namespace tandem::cli
