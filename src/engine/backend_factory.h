// Builds the backend an engine runs on from its name: "cpu" (the reference) or "cuda"
// (one GPU; only in builds with CUDA, elsewhere a clear error).
#pragma once

#include <memory>

#include "common/status.h"
#include "engine/backend.h"
#include "engine/engine.h"

namespace tandem {

// options.backend picks it; cpu_threads: the CPU backend's threads (0: all cores);
// options.cuda_device: the CUDA backend's device.
Expected<std::unique_ptr<Backend>> MakeBackend(const EngineOptions& options, int cpu_threads);

// Whether this build has the CUDA backend.
bool HaveCudaBackend();

}  // namespace tandem
