#include "coordinator/local_collective.h"

#include "net/in_process_collective.h"
#ifdef TANDEM_HAVE_CUDA
#include "engine/cuda_backend.h"
#include "kernels/cuda/cuda_check.h"
#include "net/device_collective.h"
#endif

namespace tandem {

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
