#include "engine/backend_factory.h"

#include "common/system_info.h"
#include "engine/cpu_backend.h"
#include "engine/host_staged_collective.h"
#ifdef TANDEM_HAVE_CUDA
#include "engine/cuda_backend.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_memory.h"
#endif
#ifdef TANDEM_HAVE_NCCL
#include "net/nccl_host_group.h"
#endif

namespace tandem {

bool HaveCudaBackend() {
#ifdef TANDEM_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

Expected<std::unique_ptr<Backend>> MakeBackend(const EngineOptions& options, int cpu_threads) {
  if (options.backend == "cpu") {
    CpuBackendOptions cpu;
    cpu.n_threads = cpu_threads;
    cpu.ggml_activation_rounding = options.ggml_activation_rounding.value_or(false);
    return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(cpu));
  }
  if (options.backend == "cuda") {
#ifdef TANDEM_HAVE_CUDA
    CudaBackendOptions cuda;
    cuda.device = options.cuda_device;
    cuda.activations = options.ggml_activation_rounding.value_or(true) ? ActivationRounding::kLikeGgml
                                                                        : ActivationRounding::kNone;
    TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<CudaBackend> b, CudaBackend::Create(cuda));
    return std::unique_ptr<Backend>(std::move(b));
#else
    return Status::Error("backend cuda: this build of tandem has no CUDA backend (configure with -DTANDEM_CUDA=ON "
                         "where nvcc is installed), use --backend cpu");
#endif
  }
  return Status::Error("unknown backend '{}': use cpu or cuda", options.backend);
}

bool HaveNccl() {
#ifdef TANDEM_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

Status CheckNcclBuilt() {
  if (HaveNccl()) return Status::Ok();
  return Status::Error("this build of tandem has no NCCL (it needs the CUDA backend and NCCL at configure time): "
                       "use --collective ucx");
}

Expected<std::string> MakeNcclBootstrapId() {
#ifdef TANDEM_HAVE_NCCL
  TANDEM_ASSIGN_OR_RETURN(NcclUniqueId id, MakeNcclUniqueId());
  return std::string(id.bytes.begin(), id.bytes.end());
#else
  return CheckNcclBuilt();
#endif
}

Expected<std::unique_ptr<Collective>> JoinGroupCollective(Backend& backend, std::unique_ptr<Collective> host,
                                                          std::string_view nccl_id) {
  if (nccl_id.empty()) {
#ifdef TANDEM_HAVE_CUDA
    if (backend.name() == "cuda") {
      return std::unique_ptr<Collective>(
          std::make_unique<HostStagedCollective>(std::move(host), backend, IsDeviceMemory));
    }
#endif
    return host;
  }
#ifdef TANDEM_HAVE_NCCL
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (cuda == nullptr) {
    return Status::Error("rank {} runs the {} backend, and the group asked for NCCL, which needs every rank on a GPU: "
                         "start it with --backend cuda, or serve with --collective ucx",
                         host->rank(), backend.name());
  }
  TANDEM_ASSIGN_OR_RETURN(NcclUniqueId id, NcclUniqueIdFromBytes(nccl_id));
  TANDEM_CUDA_TRY(cudaSetDevice(cuda->device()));  // NCCL takes the calling thread's device
  auto nccl = NcclCollective::Connect(id, host->rank(), host->size(), cuda->stream());
  if (!nccl.ok()) return nccl.status().WithContext("joining the group's NCCL collective");
  return std::unique_ptr<Collective>(std::make_unique<NcclHostGroup>(std::move(nccl).value(), std::move(host)));
#else
  return CheckNcclBuilt().WithContext(fmt::format("rank {}: the group asked for NCCL", host->rank()));
#endif
}

Expected<std::vector<std::unique_ptr<Collective>>> JoinLocalNcclGroup(std::span<Backend* const> backends,
                                                                      std::vector<std::unique_ptr<Collective>> hosts) {
  if (hosts.size() != backends.size()) {
    return Status::Error("an NCCL group of {} backends and {} host collectives", backends.size(), hosts.size());
  }
#ifdef TANDEM_HAVE_NCCL
  std::vector<int> devices;
  std::vector<cudaStream_t> streams;
  for (Backend* backend : backends) {
    auto* cuda = dynamic_cast<CudaBackend*>(backend);
    if (cuda == nullptr) return Status::Error("an NCCL group needs every rank on the cuda backend, not {}", backend->name());
    devices.push_back(cuda->device());
    streams.push_back(cuda->stream());
  }
  TANDEM_ASSIGN_OR_RETURN(auto nccl, NcclCollective::ConnectAll(devices, streams));
  std::vector<std::unique_ptr<Collective>> group;
  for (size_t r = 0; r < nccl.size(); ++r) {
    group.push_back(std::make_unique<NcclHostGroup>(std::move(nccl[r]), std::move(hosts[r])));
  }
  return group;
#else
  return CheckNcclBuilt().WithContext("ranks on a GPU each");
#endif
}

Expected<uint64_t> BackendFreeMemory(const EngineOptions& options) {
  if (options.backend != "cuda") return AvailableMemoryBytes();
#ifdef TANDEM_HAVE_CUDA
  TANDEM_TRY(CudaBackend::CheckDevice(options.cuda_device));
  int current = 0;
  TANDEM_CUDA_TRY(cudaGetDevice(&current));
  TANDEM_CUDA_TRY(cudaSetDevice(options.cuda_device));
  size_t free = 0, total = 0;
  const cudaError_t err = cudaMemGetInfo(&free, &total);
  cudaSetDevice(current);
  TANDEM_CUDA_TRY(err);
  return static_cast<uint64_t>(free);
#else
  return Status::Error("backend cuda: this build of tandem has no CUDA backend, use --backend cpu");
#endif
}

}  // namespace tandem
