// Where the ranks of a LocalCluster run and how they meet, per backend: CPU-backend ranks
// share host memory (InProcessCollective); CUDA-backend ranks each own a GPU when the
// machine has enough, joined by NCCL (engine/backend_factory.h JoinLocalNcclGroup), or
// share one GPU (DeviceInProcessCollective, each rank's sums ordered on its backend's
// stream); a lone one needs none (SoloCollective). Only this file knows the CUDA types,
// so LocalCluster builds the same with and without CUDA.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/backend.h"
#include "engine/engine.h"
#include "net/collective.h"
#include "net/in_process_group.h"

namespace tandem {

// Whether a LocalCluster's CUDA ranks own a GPU each or share one.
enum class RankGpus {
  kAuto,    // a GPU each when GPUs cuda_device .. cuda_device + n_ranks - 1 exist and NCCL is built
  kShared,  // every rank on cuda_device
  kOwn,     // a GPU each, or an error that says why not
};
Expected<RankGpus> ParseRankGpus(std::string_view name);  // auto | shared | own

// The GPU of each rank (options.cuda_device for all but with own GPUs; unused by the CPU
// backend) and whether they are distinct.
struct RankPlacement {
  std::vector<int> devices;  // [n_ranks]
  bool own_gpus = false;
};
Expected<RankPlacement> PlaceRanks(const EngineOptions& options, int n_ranks, RankGpus gpus);

// Rank `rank`'s collective in `group`, for the engine that will run on `backend` (made
// from `options`: a CUDA backend's ranks all run on options.cuda_device).
Expected<std::unique_ptr<Collective>> MakeLocalCollective(std::shared_ptr<InProcessGroup> group, int rank,
                                                          Backend& backend, const EngineOptions& options);

// Readies the calling thread to run a rank's engine: for the CUDA backend, makes
// options.cuda_device the thread's current device (CUDA keeps one per thread, and the
// ranks run on threads LocalCluster starts). Nothing for the CPU backend.
Status EnterRankThread(const EngineOptions& options);

}  // namespace tandem
