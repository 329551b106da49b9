#include <fmt/format.h>

#include "cli/commands.h"
#include "coordinator/shard_planner.h"
#include "model/gguf_model.h"
#include "model/model_report.h"

namespace tandem::cli {
namespace {

// The shard plan for `n_ranks` ranks and what each rank holds and reads.
Expected<std::string> DescribeShards(const GgufModel& model, int n_ranks, MoeSplit split) {
  const Tensor* embd = model.Find("token_embd.weight");
  TANDEM_ASSIGN_OR_RETURN(ModelConfig config,
                          ReadModelConfig(model.metadata(), embd != nullptr ? static_cast<uint32_t>(embd->ne(1)) : 0));
  TANDEM_ASSIGN_OR_RETURN(ModelWeights weights, ModelWeights::Bind(model, config));
  TANDEM_ASSIGN_OR_RETURN(PlannedShards planned, PlanShards(config, weights, n_ranks, split));
  TANDEM_ASSIGN_OR_RETURN(RankLoad whole, MeasureShard(config, weights, WholeModel(config.shape)[0]));
  return DescribePlan(config, planned, whole.token_bytes);
}

}  // namespace

Command AddInspectCommand(CLI::App& app) {
  struct Args {
    std::string path;
    ReportOptions report;
    int nodes = 1;
    std::string moe_split = "auto";
  };
  auto args = std::make_shared<Args>();
  auto* sub = app.add_subcommand("inspect", "print a GGUF's metadata, tensors, bytes per token and node plan");
  sub->add_option("file", args->path, "GGUF file (the first part of a split model)")->required();
  sub->add_option("--nodes", args->nodes, "also print the shard plan for N nodes: what each holds and reads")
      ->check(CLI::Range(1, 64));
  sub->add_option("--moe-split", args->moe_split, "MoE split of the plan: auto, tp (expert-TP), ep (expert-parallel)")
      ->check(CLI::IsMember({"auto", "tp", "ep"}))
      ->capture_default_str();
  sub->add_flag("--metadata", args->report.list_metadata, "list every metadata key");
  sub->add_flag("--tensors", args->report.list_tensors, "list every tensor");
  return {sub, [args] {
            auto model = GgufModel::Open(args->path);
            if (!model.ok()) {
              fmt::print(stderr, "error: {}\n", model.status().message());
              return 1;
            }
            fmt::print("{}", DescribeModel(*model, args->report));
            if (args->nodes < 2) return 0;
            auto plan = DescribeShards(*model, args->nodes, ParseMoeSplit(args->moe_split).value());
            if (!plan.ok()) {
              fmt::print(stderr, "error: no plan for {} nodes: {}\n", args->nodes, plan.status().message());
              return 1;
            }
            fmt::print("{}", *plan);
            return 0;
          }};
}

}  // namespace tandem::cli
