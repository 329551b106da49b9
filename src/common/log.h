// One spdlog logger per subsystem, so a user can say `--log net=debug`.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "common/status.h"

namespace tandem {

enum class Subsystem { kMain, kGguf, kModel, kSynth, kEngine, kNet, kCoord, kWorker };

// The logger of one subsystem (created on first use, writes to stderr).
spdlog::logger& Log(Subsystem subsystem);

// Apply a level spec: "info", "net=debug", "debug,gguf=trace" (comma-separated;
// a bare level sets every subsystem). Unknown names or levels are an error.
Status ConfigureLogs(std::string_view spec);

}  // namespace tandem
