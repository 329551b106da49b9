// Each subcommand registers its flags on the top-level CLI11 app and returns how to run
// it; main() parses, sets up logging, then runs the one the user chose.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace tandem::cli {

struct Command {
  CLI::App* app;             // the parsed subcommand
  std::function<int()> run;  // exit code
};

Command AddSynthCommand(CLI::App& app);
Command AddInspectCommand(CLI::App& app);
Command AddRunCommand(CLI::App& app);
Command AddTokenizeCommand(CLI::App& app);
Command AddServeCommand(CLI::App& app);
Command AddGenerateCommand(CLI::App& app);
Command AddWorkerCommand(CLI::App& app);
Command AddBenchCommand(CLI::App& app);

}  // namespace tandem::cli
