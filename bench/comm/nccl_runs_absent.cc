// BenchNccl in a build without CUDA or NCCL.
#include "bench/comm/nccl_runs.h"

namespace tandem::bench {

std::vector<BackendResult> BenchNccl(const std::vector<CommMessage>&, const TimingOptions&, int, int) {
  return {{"nccl", 1, {}, "this build has no CUDA/NCCL (configure with nvcc and NCCL present)"}};
}

}  // namespace tandem::bench
