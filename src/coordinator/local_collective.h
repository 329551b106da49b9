// How the ranks of a LocalCluster meet, per backend: CPU-backend ranks share host memory
// (InProcessCollective); CUDA-backend ranks share one GPU (DeviceInProcessCollective,
// each rank's sums ordered on its backend's stream), and a lone one needs none
// (SoloCollective). Only this file knows the CUDA types,
// so LocalCluster builds the same with and without CUDA.
#pragma once

#include <memory>

#include "common/status.h"
#include "engine/backend.h"
#include "engine/engine.h"
#include "net/collective.h"
#include "net/in_process_group.h"

namespace tandem {

// Rank `rank`'s collective in `group`, for the engine that will run on `backend` (made
// from `options`: a CUDA backend's ranks all run on options.cuda_device).
Expected<std::unique_ptr<Collective>> MakeLocalCollective(std::shared_ptr<InProcessGroup> group, int rank,
                                                          Backend& backend, const EngineOptions& options);

// Readies the calling thread to run a rank's engine: for the CUDA backend, makes
// options.cuda_device the thread's current device (CUDA keeps one per thread, and the
// ranks run on threads LocalCluster starts). Nothing for the CPU backend.
Status EnterRankThread(const EngineOptions& options);

}  // namespace tandem
