#include "coordinator/local_collective.h"

#include "engine/backend_factory.h"
#include "net/in_process_collective.h"
#ifdef TANDEM_HAVE_CUDA
#include "engine/cuda_backend.h"
#include "kernels/cuda/cuda_check.h"
#include "net/device_collective.h"
#endif

namespace tandem {
namespace {

// GPUs this process sees (0 without CUDA or a driver).
int CudaDeviceCount() {
#ifdef TANDEM_HAVE_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) == cudaSuccess) return count;
#endif
  return 0;
}

}  // namespace

Expected<RankGpus> ParseRankGpus(std::string_view name) {
  if (name == "auto") return RankGpus::kAuto;
  if (name == "shared") return RankGpus::kShared;
  if (name == "own") return RankGpus::kOwn;
  return Status::Error("--gpus {}: expected auto, shared or own", name);
}

Expected<RankPlacement> PlaceRanks(const EngineOptions& options, int n_ranks, RankGpus gpus) {
  RankPlacement p;
  p.devices.assign(static_cast<size_t>(n_ranks), options.cuda_device);
  if (options.backend != "cuda" || n_ranks < 2 || gpus == RankGpus::kShared) return p;
  const int count = CudaDeviceCount();
  std::string why_not;
  if (options.cuda_device + n_ranks > count) {
    why_not = fmt::format("ranks on GPUs {}..{} need {} GPUs, and this machine has {}", options.cuda_device,
                          options.cuda_device + n_ranks - 1, options.cuda_device + n_ranks, count);
  } else if (!HaveNccl()) {
    why_not = "this build of tandem has no NCCL, which joins ranks on separate GPUs";
  }
  if (!why_not.empty()) {
    if (gpus == RankGpus::kOwn) return Status::Error("--gpus own: {} (--gpus shared puts every rank on one)", why_not);
    return p;
  }
  for (int r = 0; r < n_ranks; ++r) p.devices[r] = options.cuda_device + r;
  p.own_gpus = true;
  return p;
}

Expected<std::unique_ptr<Collective>> MakeLocalCollective(std::shared_ptr<InProcessGroup> group, int rank,
                                                          Backend& backend,
                                                          [[maybe_unused]] const EngineOptions& options) {
  if (backend.name() == "cpu") return std::unique_ptr<Collective>(std::make_unique<InProcessCollective>(group, rank));
  // One device rank exchanges nothing: no stream waits in its decode step.
  if (group->size() == 1) return std::unique_ptr<Collective>(std::make_unique<SoloCollective>());
#ifdef TANDEM_HAVE_CUDA
  if (auto* cuda = dynamic_cast<CudaBackend*>(&backend)) {
    return std::unique_ptr<Collective>(
        std::make_unique<DeviceInProcessCollective>(std::move(group), rank, options.cuda_device, cuda->stream()));
  }
#endif
  return Status::Error("backend {}: no in-process collective joins its ranks (use --backend cpu or cuda)",
                       backend.name());
}

Status EnterRankThread([[maybe_unused]] const EngineOptions& options) {
#ifdef TANDEM_HAVE_CUDA
  if (options.backend == "cuda") TANDEM_CUDA_TRY(cudaSetDevice(options.cuda_device));
#endif
  return Status::Ok();
}

}  // namespace tandem
