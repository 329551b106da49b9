// What the GPU's memory can do, measured: the roofline that GEMV and decode benchmarks
// report their GB/s against. Also fills device buffers with random bytes (timing inputs
// that need no host round trip).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "common/status.h"

namespace tandem {

struct BandwidthSample {
  double gb_per_s = 0;  // 1e9 bytes per second
  double seconds = 0;   // median time of one pass
};

// Device-to-device copy of `bytes` (two buffers of that size); counts bytes read plus
// bytes written. Median of `repeats` passes after two warm-ups.
Expected<BandwidthSample> MeasureCopyBandwidth(uint64_t bytes, int repeats);
// A pure streaming read of `bytes` (16-byte loads, nothing written back).
Expected<BandwidthSample> MeasureReadBandwidth(uint64_t bytes, int repeats);

// bytes at dst (device) = a hash of (seed, offset): random-looking, reproducible.
Status FillRandomBytes(void* dst, uint64_t bytes, uint64_t seed, cudaStream_t stream);

}  // namespace tandem
