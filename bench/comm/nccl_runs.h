// The decode step's messages timed over NCCL between `ranks` GPUs of this machine, a rank
// per GPU (threads of this process, every rank calling at once; rank 0's times are
// reported). With fewer GPUs than ranks, one rank on GPU 0 (NCCL refuses two ranks on one
// GPU): then the numbers are NCCL's floor per call, not a link: one rank's in-place
// all-reduce and broadcast enqueue no work at all (a captured graph holds no node for
// them, seen on an H100 with NCCL 2.28.9), and its gather is one device-to-device copy.
// NCCL's own settings (NCCL_PROTO, NCCL_ALGO, NCCL_MIN_NCHANNELS, ...) apply as set in
// the environment.
// Two ways, both reported:
//   eager: each call enqueued and waited for (cudaStreamSynchronize), by the host clock;
//   graph: `graph_calls` calls captured into one CUDA graph, as in the decode step; one
//          sample = one replay's device time (CUDA events) / graph_calls.
// Without CUDA or NCCL in the build, or without a device, both say why they skipped.
#pragma once

#include "bench/comm/comm_result.h"

namespace tandem::bench {

std::vector<BackendResult> BenchNccl(const std::vector<CommMessage>& messages, const TimingOptions& timing,
                                     int graph_calls, int ranks);

}  // namespace tandem::bench
