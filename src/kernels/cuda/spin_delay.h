// A kernel that holds its stream for a given time: one thread reading the GPU's global
// timer until it has passed. Benchmarks use it as a link's latency (bench/decode's
// emulated link), so what overlaps a collective can be measured on one GPU.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem {

// Queues a kernel that returns `ns` nanoseconds (or a little more) after it starts.
cudaError_t SpinDelay(int64_t ns, cudaStream_t stream);

}  // namespace tandem
