// tandem worker: one rank of a served model on this box. Joins `tandem serve --nodes N`
// at --join, loads the shard it is given and follows the leader until stopped.
#include <fmt/format.h>

#include "cli/activations_option.h"
#include "cli/commands.h"
#include "worker/worker_node.h"

namespace tandem::cli {

Command AddWorkerCommand(CLI::App& app) {
  auto o = std::make_shared<WorkerNodeOptions>();
  auto join_s = std::make_shared<int>(60);
  auto timeout_s = std::make_shared<int>(60);
  auto activations = std::make_shared<std::string>("auto");
  auto* sub = app.add_subcommand("worker", "run one rank of a model for `tandem serve --nodes N`");
  sub->add_option("--join,--coordinator", o->coordinator, "the coordinator's control address, HOST:PORT (serve --control)")
      ->required();
  sub->add_option("-m,--model", o->worker.model_path, "the same GGUF file the coordinator serves")->required();
  sub->add_option("--listen", o->listen, "this worker's control service, HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  sub->add_option("--advertise", o->advertise, "HOST:PORT the coordinator dials (default: the listen address)");
  sub->add_option("-t,--threads", o->worker.engine.n_threads, "CPU threads (0: all cores)")->check(CLI::Range(0, 1024));
  sub->add_option("--backend", o->worker.engine.backend,
                  "where this rank's shard runs: cpu, or cuda (the GPU of --device, joined to the others over NCCL "
                  "or UCX as serve --collective says)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  sub->add_option("--device", o->worker.engine.cuda_device, "cuda backend: GPU ordinal")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  AddActivationsOption(sub, activations.get());
  sub->add_option("--ucx-tls", o->worker.ucx.transports, "UCX transports (UCX_TLS syntax, e.g. tcp,self)");
  sub->add_option("--join-timeout", *join_s, "seconds to keep trying to reach the coordinator")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  sub->add_option("--peer-timeout", *timeout_s, "seconds to wait for another rank during a request before failing (between requests "
                  "a worker waits for the next one as long as the coordinator answers its heartbeats)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  return {sub, [o, join_s, timeout_s, activations] {
            o->worker.engine.ggml_activation_rounding = ActivationRoundingOf(*activations);
            o->join_timeout = std::chrono::seconds(*join_s);
            o->worker.ucx.timeout = std::chrono::seconds(*timeout_s);
            auto node = WorkerNode::Start(*o);
            if (!node.ok()) {
              fmt::print(stderr, "error: {}\n", node.status().message());
              return 1;
            }
            fmt::print("worker {} joined {}; control service on {}\n", (*node)->worker_id(), o->coordinator,
                       (*node)->address());
            std::fflush(stdout);
            Status done = (*node)->Run();
            if (!done.ok()) {
              fmt::print(stderr, "error: {}\n", done.message());
              return 1;
            }
            return 0;
          }};
}

}  // namespace tandem::cli
