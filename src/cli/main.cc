// tandem: one binary, subcommands per role (see README.md).
#include <CLI/CLI.hpp>

#include <vector>

#include "cli/commands.h"
#include "common/log.h"

int main(int argc, char** argv) {
  CLI::App app{"tandem: serve one large MoE model from a few GPU boxes with tensor parallelism"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tandem 0.1.0");
  std::string log_spec = "info";
  app.add_option("--log", log_spec,
                 "log levels: LEVEL or SUBSYSTEM=LEVEL,... (subsystems: main gguf model synth engine net "
                 "coord worker)")
      ->capture_default_str();

  std::vector<tandem::cli::Command> commands = {
      tandem::cli::AddSynthCommand(app),
      tandem::cli::AddInspectCommand(app),
      tandem::cli::AddRunCommand(app),
      tandem::cli::AddTokenizeCommand(app),
      tandem::cli::AddServeCommand(app),
      tandem::cli::AddGenerateCommand(app),
      tandem::cli::AddWorkerCommand(app),
      tandem::cli::AddBenchCommand(app),
  };

  CLI11_PARSE(app, argc, argv);
  if (tandem::Status st = tandem::ConfigureLogs(log_spec); !st.ok()) {
    fmt::print(stderr, "error: --log: {}\n", st.message());
    return 2;
  }
  for (auto& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return 2;
}
