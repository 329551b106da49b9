#include "engine/backend_factory.h"

#include "engine/cpu_backend.h"
#ifdef TANDEM_HAVE_CUDA
#include "engine/cuda_backend.h"
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

}  // namespace tandem
