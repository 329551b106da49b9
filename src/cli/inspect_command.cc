#include <fmt/format.h>

#include "cli/commands.h"
#include "model/gguf_model.h"
#include "model/model_report.h"

namespace tandem::cli {

Command AddInspectCommand(CLI::App& app) {
  struct Args {
    std::string path;
    ReportOptions report;
  };
  auto args = std::make_shared<Args>();
  auto* sub = app.add_subcommand("inspect", "print a GGUF's metadata, tensors, bytes per token and node plan");
  sub->add_option("file", args->path, "GGUF file (the first part of a split model)")->required();
  sub->add_option("--nodes", args->report.nodes, "also print the per-node plan for N nodes")
      ->check(CLI::Range(1, 64));
  sub->add_flag("--metadata", args->report.list_metadata, "list every metadata key");
  sub->add_flag("--tensors", args->report.list_tensors, "list every tensor");
  return {sub, [args] {
            auto model = GgufModel::Open(args->path);
            if (!model.ok()) {
              fmt::print(stderr, "error: {}\n", model.status().message());
              return 1;
            }
            fmt::print("{}", DescribeModel(*model, args->report));
            return 0;
          }};
}

}  // namespace tandem::cli
