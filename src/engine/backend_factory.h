// Builds the backend an engine runs on from its name: "cpu" (the reference) or "cuda"
// (one GPU; only in builds with CUDA, elsewhere a clear error).
#pragma once

#include <memory>

#include "common/status.h"
#include "engine/backend.h"
#include "engine/engine.h"
#include "net/collective.h"

namespace tandem {

// options.backend picks it; cpu_threads: the CPU backend's threads (0: all cores);
// options.cuda_device: the CUDA backend's device.
Expected<std::unique_ptr<Backend>> MakeBackend(const EngineOptions& options, int cpu_threads);

// The engine's collective on `backend` from one over host memory (the UCX group of
// `serve --nodes`): the CUDA backend's device buffers are staged through host memory
// (engine/host_staged_collective.h); the CPU backend takes it as it is.
std::unique_ptr<Collective> CollectiveForBackend(Backend& backend, std::unique_ptr<Collective> host_collective);

// Free memory where options.backend keeps a shard (weights, KV cache): the host's for the
// CPU backend, the device's for CUDA.
Expected<uint64_t> BackendFreeMemory(const EngineOptions& options);

// Whether this build has the CUDA backend.
bool HaveCudaBackend();

}  // namespace tandem
