// `bench decode --emulate-link-us`: one CUDA rank whose all-reduces of device memory each
// hold the GPU for a given time, as a link's latency would. What the engine overlaps with
// an all-reduce (minimax-m2's q/k-norm sums, Collective::StartAllReduceSum) then shows on
// one GPU: a started all-reduce waits on a side stream forked and joined like
// NcclCollective's, beside the kernels queued before it finishes.
#pragma once

#include <cstdint>
#include <memory>

#include "common/status.h"
#include "engine/backend.h"
#include "net/collective.h"

namespace tandem::bench {

// The collective of the only rank, on `backend` (the CUDA backend): every device
// all-reduce takes latency_ns; broadcasts and host buffers pass as on one rank. An error
// for other backends and in builds without CUDA.
Expected<std::unique_ptr<Collective>> MakeEmulatedLink(Backend& backend, int64_t latency_ns);

}  // namespace tandem::bench
