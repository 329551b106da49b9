#include "bench/decode/decode_bench.h"
#include "bench/decode/emulated_link.h"

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "bench/decode/memory_roofline.h"
#include "coordinator/local_cluster.h"

namespace tandem::bench {
namespace {

// `n` token ids drawn from the vocabulary (a fixed seed: runs compare).
std::vector<int32_t> RandomTokens(int64_t n, int64_t n_vocab) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(std::min<int64_t>(n_vocab, 150000) - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  for (int32_t& t : tokens) t = id(gen);
  return tokens;
}

}  // namespace

Expected<DecodeBenchResult> RunDecodeBench(const DecodeBenchOptions& o) {
  if (o.tokens < 2) return Status::Error("--tokens {} must be at least 2", o.tokens);
  if (o.batch < 1 || o.batch > Engine::kMaxStepRows) {
    return Status::Error("--batch {}: 1 to {} sequences can decode together", o.batch, Engine::kMaxStepRows);
  }
  EngineOptions engine = o.engine;
  engine.n_ctx = std::max(engine.n_ctx, o.depth + o.tokens + 2);
  engine.n_seq = o.batch;
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<LocalCluster> cluster,
                          LocalCluster::Load(o.model_path, o.ranks, engine, o.moe_split, o.gpus));
  if (o.emulate_link_ns > 0) {
    if (o.ranks != 1) return Status::Error("--emulate-link-us runs one rank (--ranks 1), not {}", o.ranks);
    TANDEM_ASSIGN_OR_RETURN(auto link, MakeEmulatedLink(cluster->rank(0).backend(), o.emulate_link_ns));
    TANDEM_TRY(cluster->ReplaceCollective(0, std::move(link)));
  }
  const ModelShape& s = cluster->rank(0).config().shape;
  DecodeBenchResult r;
  r.arch = std::string(ArchName(s.arch));
  r.layers = s.n_layer;
  r.ranks = o.ranks;
  r.backend = engine.backend;
  r.overlap_qk_norm = engine.overlap_qk_norm;
  r.collective = cluster->collective_name();
  r.emulate_link_ns = o.emulate_link_ns;
  r.depth = o.depth;
  r.tokens = o.tokens;
  r.batch = o.batch;
  const PlannedShards& planned = cluster->planned();
  r.weight_bytes_per_token = planned.step_token_bytes + static_cast<double>(planned.loads[0].replicated_token_bytes);
  for (const Shard& shard : planned.plan) {
    // At depth d a token attends to about d positions of its rank's KV heads.
    r.kv_bytes_per_token = std::max(r.kv_bytes_per_token,
                                    static_cast<double>(KvCacheBytes(s, shard, o.depth + o.tokens / 2, engine.kv_storage)));
  }
  // Each sequence: `depth` positions of synthetic keys and values (no prefill), then a
  // one-token prompt of its own; all join one batch at once. Greedy: every sequence
  // decodes exactly max_tokens.
  const std::vector<int32_t> prompts = RandomTokens(o.batch, s.n_vocab);
  auto generate = [&](int64_t max_tokens) -> Expected<GenerateStats> {
    std::vector<SequenceRequest> requests(static_cast<size_t>(o.batch));
    for (int64_t i = 0; i < o.batch; ++i) {
      requests[i].prompt = {prompts[i]};
      requests[i].max_tokens = max_tokens;
      requests[i].synthetic_depth = o.depth;
    }
    TANDEM_ASSIGN_OR_RETURN(std::vector<GenerateStats> each, cluster->GenerateTogether(std::move(requests)));
    GenerateStats all;  // the batch's: every sequence's tokens over the longest decode
    for (const GenerateStats& e : each) {
      all.generated_tokens += e.generated_tokens;
      all.decode_seconds = std::max(all.decode_seconds, e.decode_seconds);
    }
    return all;
  };
  // Warm-up (pages in the weights, records the decode steps), then 1 token, then N: the
  // difference isolates the decode steps' collectives.
  TANDEM_TRY(generate(std::min<int64_t>(o.tokens, 8)).status());
  const CollectiveTime before = cluster->collective_time(0);
  TANDEM_ASSIGN_OR_RETURN(GenerateStats short_run, generate(1));
  const CollectiveTime mid = cluster->collective_time(0);
  TANDEM_ASSIGN_OR_RETURN(GenerateStats run, generate(o.tokens));
  const CollectiveTime after = cluster->collective_time(0);
  // Each sequence's first token comes from its prompt; the steps after it are timed.
  r.decode_tok_s = static_cast<double>(run.generated_tokens - o.batch) / run.decode_seconds;
  const double decode_steps = static_cast<double>(run.generated_tokens - short_run.generated_tokens) / o.batch;
  const double comm = (after.seconds - mid.seconds) - (mid.seconds - before.seconds);
  const double calls = static_cast<double>((after.calls - mid.calls) - (mid.calls - before.calls));
  r.comm_us_per_token = decode_steps > 0 ? std::max(0.0, comm) / decode_steps * 1e6 : 0;
  r.collectives_per_token = decode_steps > 0 ? calls / decode_steps : 0;
  if (o.profile) {
    // Every step live with its kernels timed by events: slower than the replayed steps
    // above, but it shows where a step's time goes.
    Backend& backend = cluster->rank(0).backend();
    backend.ProfileOps(true);
    const Expected<GenerateStats> profiled = generate(o.tokens);
    auto times = backend.OpTimes();
    backend.ProfileOps(false);
    TANDEM_TRY(profiled.status());
    TANDEM_TRY(times.status());
    const double steps = static_cast<double>(std::max<int64_t>(1, profiled->generated_tokens / o.batch));
    for (OpTime& t : *times) {
      t.seconds /= steps;
      r.op_times.push_back(t);
    }
    std::sort(r.op_times.begin(), r.op_times.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  }
  const int threads = engine.n_threads > 0 ? engine.n_threads : 0;
  auto roofline = MeasureRoofline(engine.backend, threads);
  if (roofline.ok()) {
    r.roofline_gb_s = roofline->gb_per_s;
    r.roofline_what = roofline->what;
  } else {
    r.roofline_what = roofline.status().message();
  }
  return r;
}

std::string FormatDecodeResult(const DecodeBenchResult& r) {
  const double gib = 1024.0 * 1024 * 1024;
  std::string out = fmt::format("{} ({} layers) on {} {} rank(s), batch {}, depth {} (synthetic KV), {} tokens decoded",
                                r.arch, r.layers, r.ranks, r.backend, r.batch, r.depth, r.tokens);
  if (r.ranks > 1) out += fmt::format(", ranks joined by {}", r.collective);
  if (r.emulate_link_ns > 0) out += fmt::format(", emulated link of {:.1f} µs per all-reduce", r.emulate_link_ns / 1e3);
  if (r.overlap_qk_norm) out += fmt::format(", q/k norm overlap {}", *r.overlap_qk_norm ? "on" : "off");
  if (r.batch > 1) {
    out += fmt::format(" per sequence\n  decode   {:.2f} tok/s in all, {:.2f} tok/s per sequence ({:.2f} ms/step)\n",
                       r.decode_tok_s, r.decode_tok_s / static_cast<double>(r.batch), r.ms_per_step());
    out += "  memory   not counted: a batch's steps read the experts its tokens route to\n";
  } else {
    out += fmt::format(
        "\n  decode   {:.2f} tok/s ({:.2f} ms/token)\n"
        "  reads    {:.3f} GiB/token of weights + {:.3f} GiB/token of KV (the slowest rank's)\n"
        "  memory   {:.1f} GB/s achieved",
        r.decode_tok_s, r.ms_per_step(), r.weight_bytes_per_token / gib, r.kv_bytes_per_token / gib,
        r.achieved_gb_s());
    out += r.roofline_gb_s > 0 ? fmt::format(" = {:.0f}% of {:.1f} GB/s ({})\n", 100 * r.roofline_share(),
                                             r.roofline_gb_s, r.roofline_what)
                               : fmt::format(" (no roofline: {})\n", r.roofline_what);
  }
  out += fmt::format("  comm     {:.0f} µs/step in {:.0f} collectives on rank 0 ({:.0f}% of the step)\n",
                     r.comm_us_per_token, r.collectives_per_token,
                     r.ms_per_step() > 0 ? 100 * r.comm_us_per_token / (1e3 * r.ms_per_step()) : 0);
  if (!r.op_times.empty()) {
    double total = 0;
    for (const OpTime& t : r.op_times) total += t.seconds;
    out += fmt::format("  ops of rank 0 per step, every step live and timed ({:.0f} µs in ops):\n", total * 1e6);
    for (const OpTime& t : r.op_times) {
      out += fmt::format("    {:<18} {:9.1f} µs {:5.1f}%\n", t.op, t.seconds * 1e6, total > 0 ? 100 * t.seconds / total : 0);
    }
  }
  return out;
}

std::string DecodeCsvHeader() {
  return "arch,layers,ranks,backend,depth,tokens,decode_tok_s,ms_per_token,weight_gib_per_token,"
         "kv_gib_per_token,achieved_gb_s,roofline_gb_s,roofline_share,comm_us_per_token,collectives_per_token,batch\n";
}

std::string DecodeCsvRow(const DecodeBenchResult& r) {
  const double gib = 1024.0 * 1024 * 1024;
  return fmt::format("{},{},{},{},{},{},{:.3f},{:.3f},{:.4f},{:.4f},{:.2f},{:.2f},{:.3f},{:.1f},{:.1f},{}\n",
                     r.arch, r.layers, r.ranks, r.backend, r.depth, r.tokens, r.decode_tok_s, r.ms_per_step(),
                     r.weight_bytes_per_token / gib, r.kv_bytes_per_token / gib, r.achieved_gb_s(),
                     r.roofline_gb_s, r.roofline_share(), r.comm_us_per_token, r.collectives_per_token, r.batch);
}

}  // namespace tandem::bench
