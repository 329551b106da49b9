// `tandem bench boundaries`: what share of the GPU's streaming-read roofline one batch-1
// MoE decode step can reach when its phases (each a read of some MB of weights, each
// waiting for the one before) run as one PDL kernel per phase, as one persistent kernel
// with a grid barrier between phases, or as that kernel prefetching the next phase into
// L2 before each barrier (kernels/cuda/boundary_probe.h); and what one boundary costs.
// Defaults: Qwen3-30B-A3B Q4_K_M, one layer's q, k, v, o, router, expert gate+up and
// expert down, 48 layers (~1.8 GB per step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "kernels/cuda/boundary_probe.h"

namespace tandem::bench {

struct BoundaryBenchOptions {
  std::string phases_mb = "4.72,0.59,0.86,4.72,1.05,14.2,10.3";  // one layer's phases, MB = 1e6 bytes
  int layers = 48;
  int steps = 50;   // timed graph replays per structure (after 3 warm-up replays)
  int device = 0;
};

// "4.72,0.59" -> bytes of each phase (MB = 1e6 bytes, rounded down to a multiple of 16).
// An empty, non-numeric, non-positive or sub-16-byte entry is an error naming the entry
// and the fix.
Expected<std::vector<uint64_t>> ParsePhasesMb(const std::string& list);

// The probe's configuration for `options` (flags checked, messages naming the flag).
Expected<BoundaryConfig> BoundaryConfigOf(const BoundaryBenchOptions& options);

// Measures the roofline, then runs the probe; an error in a build without CUDA, without a
// device, or when the structures' checksums disagree (they must read the same bytes).
Expected<BoundaryReport> RunBoundaryBench(const BoundaryConfig& config);

// Per structure: µs per step, GB/s, share of the roofline, µs per boundary =
// (step µs - bytes / roofline) / phases per step.
double IdealUsPerStep(const BoundaryReport& r);
double UsPerBoundary(const BoundaryReport& r, const BoundaryStructureResult& s);

std::string FormatBoundaryReport(const BoundaryReport& r, int layers, int steps, int warmup);
std::string BoundaryCsv(const BoundaryReport& r, int layers);

}  // namespace tandem::bench
