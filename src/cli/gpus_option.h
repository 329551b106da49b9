// The --gpus option of the commands that load ranks in this process (run, serve --ranks,
// bench decode): whether CUDA ranks own a GPU each, joined by NCCL, or share --device
// (coordinator/local_collective.h RankGpus).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "coordinator/local_collective.h"

namespace tandem {

inline CLI::Option* AddGpusOption(CLI::App* app, std::string* value) {
  return app
      ->add_option("--gpus", *value,
                   "cuda ranks: own (rank r on GPU --device + r, joined by NCCL), shared (all on --device), or auto "
                   "(own when the machine has the GPUs)")
      ->check(CLI::IsMember({"auto", "shared", "own"}))
      ->capture_default_str();
}

inline RankGpus RankGpusOf(const std::string& value) { return ParseRankGpus(value).value(); }

}  // namespace tandem
