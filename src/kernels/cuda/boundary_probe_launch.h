// Launchers of boundary_probe.cu, called by boundary_probe.cc only. Every kernel runs
// kBoundaryThreads threads per block; sizes are in 16-byte words.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem::cuda_detail {

constexpr int kBoundaryThreads = 256;

// One phase of the step: words [offset16, offset16 + n16) of the buffer.
struct BoundaryPhase {
  uint64_t offset16 = 0;
  uint64_t n16 = 0;
};

// Blocks of each kernel that fit on the current device at once (occupancy x SMs).
cudaError_t BoundaryPhaseKernelResidentBlocks(int* blocks);
cudaError_t BoundaryPersistentResidentBlocks(bool prefetch, int* blocks);

// The grid LaunchBoundaryPhase gives a phase of n16 words: one word per thread at most,
// never more than `resident` blocks.
int BoundaryPhaseBlocks(uint64_t n16, int resident);

// Reads `phase` of `base` with programmatic dependent launch (launch_after_previous.cuh);
// block b writes the xor of the 32-bit words it read to sink[b].
cudaError_t LaunchBoundaryPhase(const void* base, BoundaryPhase phase, int blocks, uint32_t* sink,
                                cudaStream_t stream);

// One cooperative kernel of `blocks` blocks (all resident) walks phases[0..n_phases) (a
// device array) with a grid barrier between them; block b writes phase p's xor to
// sink[p * sink_stride + b]. `barrier` is kBoundaryBarrierWords zeroed 64-bit words kept
// for this kernel and grid size (reset-free: they only grow). With `prefetch`, each block
// asks L2 for its share of phase p + 1 before the barrier that ends phase p.
constexpr int kBoundaryBarrierWords = 32;  // counter and generation on separate 128-byte lines
cudaError_t LaunchBoundaryPersistent(const void* base, const BoundaryPhase* phases, int n_phases, uint32_t* sink,
                                     int sink_stride, unsigned long long* barrier, int blocks, bool prefetch,
                                     cudaStream_t stream);

}  // namespace tandem::cuda_detail
