// What the boundaries between a decode step's dependent phases cost on the GPU. A batch-1
// MoE decode step is a chain of phases (q, k, v, o, router, experts... of each layer),
// each a streaming read of its weights that must wait for the one before. The probe times
// one such step, all weights distinct memory, under three execution structures:
//   kernels              one read kernel per phase, programmatic dependent launch, the
//                        step captured in a CUDA graph (what the engine does today);
//   persistent           one kernel of all resident blocks walking every phase, a software
//                        grid barrier between phases, captured and replayed the same way;
//   persistent+prefetch  the same, but before each barrier every block asks L2 to prefetch
//                        its share of the next phase (cp.async.bulk.prefetch, sm_90+), so
//                        the next phase's reads overlap the barrier.
// The difference between a step's time and its bytes at the streaming-read roofline,
// divided by the phases, is the cost of one boundary. `tandem bench boundaries` prints it.
//
// Plain C++: the types need no CUDA headers, so a build without CUDA can hold them; the
// function is defined only where CUDA is (tandem_kernels_cuda).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace tandem {

struct BoundaryConfig {
  std::vector<uint64_t> phase_bytes;  // bytes of each phase of one layer, in order (multiples of 16)
  int layers = 48;                    // the step is `layers` x phase_bytes.size() phases
  int steps = 50;                     // timed graph replays per structure
  int warmup = 3;                     // untimed replays first (the first one gives the checksum)
  int device = 0;                     // CUDA device ordinal
  uint64_t roofline_bytes = 0;        // > 0: measure the streaming-read roofline on this many bytes first
  uint64_t seed = 1;                  // the buffer's bytes: FillRandomBytes(buffer, size, seed)
};

// Where phase i of the step (layer i / P, phase i % P of the layer) lies in the one buffer.
struct BoundaryPhaseSpan {
  uint64_t offset = 0;  // bytes from the buffer's start (a multiple of 256)
  uint64_t bytes = 0;   // a multiple of 16
};

struct BoundaryStructureResult {
  std::string name;          // "kernels", "persistent", "persistent+prefetch"
  int blocks = 0;            // grid of the persistent kernel; the largest phase grid for kernels
  int launches_per_step = 0;
  double us_per_step = 0;    // median of the timed replays (CUDA events), microseconds
  double min_us_per_step = 0;
  // Fold over the step's phases, in order, of the xor of each phase's 32-bit words as the
  // structure read them: c = (c ^ phase_xor) * 0x100000001b3, starting at 0xcbf29ce484222325.
  uint64_t checksum = 0;
};

struct BoundaryReport {
  std::string gpu;                          // device name
  int device = 0;
  int sms = 0;
  uint64_t l2_bytes = 0;
  double roofline_gb_per_s = 0;             // 1e9 bytes per second; 0 when not measured
  uint64_t buffer_bytes = 0;                // the buffer FillRandomBytes filled (>= the spans' end)
  std::vector<BoundaryPhaseSpan> phases;    // layers x phases per layer, in step order
  uint64_t bytes_per_step = 0;              // sum of the spans' bytes
  std::vector<BoundaryStructureResult> structures;  // kernels, persistent, persistent+prefetch
};

// Why `config` cannot run (empty phase list, a phase under 16 bytes or not a multiple of
// 16, layers / steps / warmup < 1), each message naming the fix; Ok otherwise.
Status ValidateBoundaryConfig(const BoundaryConfig& config);

// The folding BoundaryStructureResult::checksum describes, one phase at a time.
inline uint64_t BoundaryChecksumStart() { return 0xcbf29ce484222325ull; }
inline uint64_t BoundaryChecksumAdd(uint64_t checksum, uint32_t phase_xor) {
  return (checksum ^ phase_xor) * 0x100000001b3ull;
}

// Runs the three structures on `config.device` (which stays the current device).
Expected<BoundaryReport> RunBoundaryProbe(const BoundaryConfig& config);

}  // namespace tandem
