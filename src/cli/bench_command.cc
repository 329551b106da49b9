// `tandem bench comm`: latency of each collective a decode step runs, at a model's exact
// message sizes, for every collective implementation this machine can run; then comm
// µs per token. `tandem bench decode`: decode tok/s of a model (a file or a synthetic one
// of a real architecture) on N ranks, one sequence against its bytes per token and the
// memory roofline, or several decoded together; with the collectives' share of the step.
// `tandem bench boundaries`: the share of the GPU's read roofline one batch-1 MoE decode
// step reaches as PDL kernels per phase, one persistent kernel with grid barriers, and that
// kernel prefetching the next phase into L2; µs per phase boundary.
#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "bench/comm/comm_plan.h"
#include "bench/comm/comm_table.h"
#include "bench/comm/host_runs.h"
#include "bench/comm/nccl_runs.h"
#include "bench/decode/boundary_bench.h"
#include "bench/decode/decode_bench.h"
#include "bench/decode/synthetic_spec.h"
#include "cli/activations_option.h"
#include "cli/commands.h"
#include "cli/gpus_option.h"
#include "model/gguf_model.h"
#include "model/hparams.h"

namespace tandem::cli {
namespace {

struct CommArgs {
  std::string model;
  std::string arch;
  int ranks = 2;
  int iters = 2000;
  int warmup = 200;
  int graph_calls = 20;
  std::string backends = "in-process,ucx-tcp,ucx-sm,nccl";
  std::string csv;
};

Expected<ModelShape> ShapeOf(const CommArgs& args) {
  if (!args.model.empty() && !args.arch.empty()) return Status::Error("give --model or --arch, not both");
  if (args.model.empty()) {
    TANDEM_ASSIGN_OR_RETURN(Arch arch, ParseArch(args.arch.empty() ? "minimax-m2" : args.arch));
    return RealShape(arch);
  }
  TANDEM_ASSIGN_OR_RETURN(GgufModel model, GgufModel::Open(args.model));
  const Tensor* embd = model.Find("token_embd.weight");
  TANDEM_ASSIGN_OR_RETURN(ModelConfig config,
                          ReadModelConfig(model.metadata(), embd != nullptr ? static_cast<uint32_t>(embd->ne(1)) : 0));
  return config.shape;
}

int RunComm(const CommArgs& args) {
  Expected<ModelShape> shape = ShapeOf(args);
  if (!shape.ok()) {
    fmt::print(stderr, "error: bench comm: {}\n", shape.status().message());
    return 1;
  }
  std::vector<std::string> backends;
  std::istringstream list(args.backends);
  for (std::string backend; std::getline(list, backend, ',');) {
    if (backend != "in-process" && backend != "ucx-tcp" && backend != "ucx-sm" && backend != "nccl") {
      fmt::print(stderr, "error: --backends: unknown '{}' (in-process, ucx-tcp, ucx-sm, nccl)\n", backend);
      return 2;
    }
    backends.push_back(backend);
  }
  // UCX ranks are forked processes, and a process that started CUDA must not fork: NCCL last.
  std::stable_partition(backends.begin(), backends.end(), [](const std::string& b) { return b != "nccl"; });
  const std::vector<bench::CommMessage> messages = bench::DecodeStepMessages(*shape);
  const bench::TimingOptions timing{args.warmup, args.iters};
  fmt::print("tandem bench comm: {} (n_embd {}, {} layers), batch-1 decode step; {} calls after {} warm-up\n",
             ArchName(shape->arch), shape->n_embd, shape->n_layer, args.iters, args.warmup);
  std::fflush(stdout);
  std::vector<bench::BackendResult> results;
  for (const std::string& backend : backends) {
    if (backend == "in-process") {
      results.push_back(bench::BenchInProcess(args.ranks, messages, timing));
    } else if (backend == "ucx-tcp") {
      results.push_back(bench::BenchUcx("ucx tcp", "tcp,self", args.ranks, messages, timing));
    } else if (backend == "ucx-sm") {
      results.push_back(bench::BenchUcx("ucx sm", "sm,self", args.ranks, messages, timing));
    } else {
      for (auto& r : bench::BenchNccl(messages, timing, args.graph_calls, args.ranks)) results.push_back(std::move(r));
    }
  }
  fmt::print("{}", bench::FormatCommTable(messages, results));
  int nccl_ranks = 0;
  for (const bench::BackendResult& r : results) {
    if (r.name.starts_with("nccl")) nccl_ranks = r.ranks;
  }
  const std::string nccl_where =
      nccl_ranks > 1 ? fmt::format("a rank on each of GPUs 0..{}, all calling at once, rank 0's times", nccl_ranks - 1)
                     : "one rank on one GPU (fewer GPUs than --ranks), NCCL's per-call floor and no link (one rank's "
                       "in-place all-reduce and broadcast enqueue no work; its gather is one device copy)";
  fmt::print(
      "in-process, ucx: host-clock time per call from a common start (ranks lined up first), the slowest "
      "rank's percentiles, ranks on this machine.\nnccl: {}: eager = enqueue + stream sync, graph = device time "
      "per call inside a CUDA graph of {} calls; NCCL_PROTO, NCCL_ALGO and the like apply from the environment.\n",
      nccl_where, args.graph_calls);
  if (!args.csv.empty()) {
    if (Status st = bench::WriteCommCsv(args.csv, messages, results); !st.ok()) {
      fmt::print(stderr, "error: {}\n", st.message());
      return 1;
    }
    fmt::print("wrote {}\n", args.csv);
  }
  return 0;
}

struct DecodeArgs {
  std::string model;
  std::string synthetic;
  std::string synth_dir = "/tmp/tandem-bench";
  std::string backend = "cpu";
  std::string activations = "auto";  // auto | f32 | ggml
  int ranks = 1;
  std::string moe_split = "auto";
  std::string qk_norm_overlap = "auto";  // auto | on | off
  std::string gpus = "auto";             // auto | shared | own
  double emulate_link_us = 0;
  int device = 0;                        // rank 0's GPU
  std::vector<int64_t> depths = {0};
  std::vector<int64_t> batches = {1};
  int64_t tokens = 32;
  bool profile = false;
  int threads = 0;
  std::string csv;
};

// Writes `csv` to `path`; false (with the error printed) when it cannot.
bool WriteCsv(const std::string& path, const std::string& csv) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr || std::fputs(csv.c_str(), f) < 0 || std::fclose(f) != 0) {
    fmt::print(stderr, "error: cannot write {}\n", path);
    return false;
  }
  fmt::print("wrote {}\n", path);
  return true;
}

int RunDecode(const DecodeArgs& a) {
  std::string path = a.model;
  if (path.empty() == a.synthetic.empty()) {
    fmt::print(stderr, "error: give a model file (-m) or --synthetic ARCH[:RECIPE][:layers=N]\n");
    return 2;
  }
  if (!a.synthetic.empty()) {
    auto file = bench::SyntheticModelFile(a.synthetic, a.synth_dir, TANDEM_SOURCE_DIR "/tests/data/vocab-qwen2.gguf");
    if (!file.ok()) {
      fmt::print(stderr, "error: {}\n", file.status().message());
      return 1;
    }
    path = *file;
  }
  std::string csv = bench::DecodeCsvHeader();
  for (int64_t batch : a.batches) {
  for (int64_t depth : a.depths) {
    bench::DecodeBenchOptions o;
    o.batch = batch;
    o.model_path = path;
    o.engine.backend = a.backend;
    o.engine.ggml_activation_rounding = ActivationRoundingOf(a.activations);
    o.engine.n_threads = a.threads;
    if (a.qk_norm_overlap != "auto") o.engine.overlap_qk_norm = a.qk_norm_overlap == "on";
    o.ranks = a.ranks;
    o.moe_split = ParseMoeSplit(a.moe_split).value();
    o.gpus = RankGpusOf(a.gpus);
    o.emulate_link_ns = static_cast<int64_t>(a.emulate_link_us * 1e3);
    o.engine.cuda_device = a.device;
    o.depth = depth;
    o.tokens = a.tokens;
    o.profile = a.profile;
    auto result = bench::RunDecodeBench(o);
    if (!result.ok()) {
      fmt::print(stderr, "error: bench decode: {}\n", result.status().message());
      return 1;
    }
    fmt::print("{}", bench::FormatDecodeResult(*result));
    std::fflush(stdout);
    csv += bench::DecodeCsvRow(*result);
  }
  }
  if (!a.csv.empty()) {
    if (!WriteCsv(a.csv, csv)) return 1;
  }
  return 0;
}

struct BoundaryArgs {
  bench::BoundaryBenchOptions options;
  std::string csv;
};

int RunBoundaries(const BoundaryArgs& a) {
  Expected<BoundaryConfig> config = bench::BoundaryConfigOf(a.options);
  if (!config.ok()) {
    fmt::print(stderr, "error: bench boundaries: {}\n", config.status().message());
    return 2;
  }
  Expected<BoundaryReport> report = bench::RunBoundaryBench(*config);
  if (!report.ok()) {
    fmt::print(stderr, "error: bench boundaries: {}\n", report.status().message());
    return 1;
  }
  fmt::print("{}", bench::FormatBoundaryReport(*report, config->layers, config->steps, config->warmup));
  if (!a.csv.empty()) {
    const std::string csv = bench::BoundaryCsv(*report, config->layers);
    if (!WriteCsv(a.csv, csv)) return 1;
  }
  return 0;
}

}  // namespace

Command AddBenchCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("bench", "benchmarks: comm (collective latency per decode step), decode (tok/s), "
                                          "boundaries (cost of a decode step's phase boundaries on the GPU)");
  sub->require_subcommand(1);
  auto args = std::make_shared<CommArgs>();
  auto* comm = sub->add_subcommand("comm",
                                   "latency (p50/p99 µs) of each collective a decode step runs, at a model's "
                                   "message sizes: in-process, UCX (tcp, sm) and NCCL; comm µs per token");
  auto* model = comm->add_option("--model", args->model, "GGUF file whose shape gives the message sizes");
  comm->add_option("--arch", args->arch, "or a real architecture's shape: qwen3moe, minimax-m2 (default)")
      ->check(CLI::IsMember({"qwen3moe", "minimax-m2"}))
      ->excludes(model);
  comm->add_option("--ranks", args->ranks, "ranks of each group (NCCL: a GPU each; 1 rank where the machine has fewer GPUs)")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  comm->add_option("--iters", args->iters, "timed calls per message")
      ->check(CLI::Range(10, 10000000))
      ->capture_default_str();
  comm->add_option("--warmup", args->warmup, "untimed calls first")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str();
  comm->add_option("--graph-calls", args->graph_calls, "NCCL calls per captured CUDA graph")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  comm->add_option("--backends", args->backends, "comma-separated: in-process, ucx-tcp, ucx-sm, nccl")
      ->capture_default_str();
  comm->add_option("--csv", args->csv, "also write the numbers to this CSV file");

  auto d = std::make_shared<DecodeArgs>();
  auto* decode = sub->add_subcommand("decode", "decode tok/s on N ranks vs bytes per token and the roofline");
  auto* file = decode->add_option("-m,--model", d->model, "GGUF model");
  decode->add_option("--synthetic", d->synthetic,
                     "or a synthetic model of a real architecture, written once: ARCH[:RECIPE][:layers=N][:experts=N] "
                     "(qwen3moe-30b:q4_k_m, minimax-m2:q3_k_xl:layers=20)")
      ->excludes(file);
  decode->add_option("--synth-dir", d->synth_dir, "where synthetic models are kept")->capture_default_str();
  decode->add_option("--backend", d->backend, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  AddActivationsOption(decode, &d->activations);
  decode->add_option("--device", d->device, "cuda backend: rank 0's GPU")->capture_default_str()->check(CLI::Range(0, 64));
  AddGpusOption(decode, &d->gpus);
  decode->add_option("--emulate-link-us", d->emulate_link_us,
                     "one cuda rank whose every all-reduce holds the GPU this long, as a link's latency would: what "
                     "the step overlaps with its all-reduces shows on one GPU (compare --qk-norm-overlap on and off)")
      ->check(CLI::Range(0.0, 10000.0));
  decode->add_option("--ranks,--nodes", d->ranks, "tensor-parallel ranks in this process")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  decode->add_option("--moe-split", d->moe_split, "auto, tp, ep")
      ->check(CLI::IsMember({"auto", "tp", "ep"}))
      ->capture_default_str();
  decode->add_option("--depth", d->depths, "KV context depth(s) at which decode is timed, the cache filled synthetically (e.g. --depth 0 16384)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24))
      ->capture_default_str();
  decode->add_option("--tokens", d->tokens, "tokens decoded and timed (per sequence)")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  decode->add_option("--batch", d->batches, "sequences decoded together, one step for all (e.g. --batch 1 4 8)")
      ->check(CLI::Range(int64_t{1}, Engine::kMaxStepRows))
      ->capture_default_str();
  decode->add_option("--qk-norm-overlap", d->qk_norm_overlap,
                     "minimax-m2: run the attention's q.K pass while the q/k norm's sums are all-reduced (auto: "
                     "with NCCL)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  decode->add_flag("--profile", d->profile, "also time each op of rank 0 per token (a further run, every step live)");
  decode->add_option("-t,--threads", d->threads, "CPU threads in all (0: all cores)")->check(CLI::Range(0, 1024));
  decode->add_option("--csv", d->csv, "also write the numbers to this CSV file");

  auto bo = std::make_shared<BoundaryArgs>();
  auto* boundaries = sub->add_subcommand(
      "boundaries",
      "share of the GPU's streaming-read roofline a batch-1 MoE decode step (dependent phases, each a read of its "
      "weights) reaches as one PDL kernel per phase, one persistent kernel with grid barriers, and that kernel "
      "prefetching the next phase into L2; µs per phase boundary");
  boundaries->add_option("--phases-mb", bo->options.phases_mb,
                         "one layer's phases in order, MB (1e6 bytes) each, comma-separated (default: Qwen3-30B-A3B "
                         "Q4_K_M q, k, v, o, router, expert gate+up, expert down)")
      ->capture_default_str();
  boundaries->add_option("--layers", bo->options.layers, "layers per step")->capture_default_str();
  boundaries->add_option("--steps", bo->options.steps, "timed graph replays per structure, after 3 warm-up")
      ->capture_default_str();
  boundaries->add_option("--device", bo->options.device, "CUDA device")->capture_default_str();
  boundaries->add_option("--csv", bo->csv, "also write the numbers to this CSV file");
  return {sub, [args, d, bo, comm, decode, boundaries] {
            if (decode->parsed()) return RunDecode(*d);
            if (boundaries->parsed()) return RunBoundaries(*bo);
            return RunComm(*args);
          }};
}

}  // namespace tandem::cli
