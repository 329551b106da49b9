// The memory bandwidth a decode step is measured against: a streaming read of a buffer
// far larger than the caches, on the host (all threads) or on the GPU.
#pragma once

#include <string>

#include "common/status.h"

namespace tandem::bench {

struct Roofline {
  double gb_per_s = 0;  // 1e9 bytes per second
  std::string what;     // "host read, 2 threads, 512 MiB"
};

Expected<Roofline> MeasureRoofline(const std::string& backend, int threads);

}  // namespace tandem::bench
