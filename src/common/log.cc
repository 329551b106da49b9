#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <array>
#include <mutex>
#include <string>

namespace tandem {
namespace {

constexpr std::array<std::string_view, 8> kNames = {"main",   "gguf", "model", "synth",
                                                    "engine", "net",  "coord", "worker"};

std::shared_ptr<spdlog::logger> MakeLogger(std::string_view name) {
  static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(std::string(name), sink);
  logger->set_pattern("[%H:%M:%S.%e] [%n] [%^%l%$] %v");
  logger->set_level(spdlog::level::info);
  return logger;
}

std::array<std::shared_ptr<spdlog::logger>, kNames.size()>& Loggers() {
  static std::array<std::shared_ptr<spdlog::logger>, kNames.size()> loggers = [] {
    std::array<std::shared_ptr<spdlog::logger>, kNames.size()> l;
    for (size_t i = 0; i < kNames.size(); ++i) l[i] = MakeLogger(kNames[i]);
    return l;
  }();
  return loggers;
}

Expected<spdlog::level::level_enum> ParseLevel(std::string_view text) {
  auto level = spdlog::level::from_str(std::string(text));
  // from_str answers "off" for anything it does not know.
  if (level == spdlog::level::off && text != "off") {
    return Status::Error("unknown log level '{}' (use trace, debug, info, warn, error, critical or off)",
                         text);
  }
  return level;
}

}  // namespace

spdlog::logger& Log(Subsystem subsystem) { return *Loggers()[static_cast<size_t>(subsystem)]; }

Status ConfigureLogs(std::string_view spec) {
  auto& loggers = Loggers();
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      TANDEM_ASSIGN_OR_RETURN(auto level, ParseLevel(item));
      for (auto& l : loggers) l->set_level(level);
      continue;
    }
    std::string_view name = item.substr(0, eq);
    TANDEM_ASSIGN_OR_RETURN(auto level, ParseLevel(item.substr(eq + 1)));
    bool found = false;
    for (size_t i = 0; i < kNames.size(); ++i) {
      if (kNames[i] == name) {
        loggers[i]->set_level(level);
        found = true;
      }
    }
    if (!found) {
      return Status::Error("unknown log subsystem '{}' (use main, gguf, model, synth, engine, net, coord or worker)",
                           name);
    }
  }
  return Status::Ok();
}

}  // namespace tandem
