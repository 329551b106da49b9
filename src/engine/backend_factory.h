// Builds the backend an engine runs on from its name: "cpu" (the reference) or "cuda"
// (one GPU; only in builds with CUDA, elsewhere a clear error).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/backend.h"
#include "engine/engine.h"
#include "net/collective.h"

namespace tandem {

// options.backend picks it; cpu_threads: the CPU backend's threads (0: all cores);
// options.cuda_device: the CUDA backend's device.
Expected<std::unique_ptr<Backend>> MakeBackend(const EngineOptions& options, int cpu_threads);

// The collective a rank of a distributed group (`serve --nodes`) runs its engine on, made
// once the group's UCX collective `host` is connected:
// - nccl_id empty: `host` itself for the CPU backend; for CUDA, device buffers are staged
//   through host memory (engine/host_staged_collective.h) and no step is recorded.
// - nccl_id (StartRequest.nccl_unique_id, from rank 0's MakeNcclBootstrapId): every rank
//   calls this at once with it and joins an NCCL group on its GPU; device buffers then go
//   through NCCL on the backend's stream, recorded into the decode step's CUDA graph, and
//   host buffers through `host` (net/nccl_host_group.h). Needs the CUDA backend.
Expected<std::unique_ptr<Collective>> JoinGroupCollective(Backend& backend, std::unique_ptr<Collective> host,
                                                          std::string_view nccl_id);

// The collectives of the ranks of one process that own a GPU each (a LocalCluster on a
// machine with a GPU per rank): one NCCL group made at once for all of them, joining
// device buffers on each backend's stream, and hosts[r], rank r's in-process collective,
// for host buffers (net/nccl_host_group.h). backends: CUDA backends on distinct GPUs, in
// rank order.
Expected<std::vector<std::unique_ptr<Collective>>> JoinLocalNcclGroup(std::span<Backend* const> backends,
                                                                      std::vector<std::unique_ptr<Collective>> hosts);

// Whether this build has NCCL (the CUDA backend and NCCL were found).
bool HaveNccl();
// Ok in a build with NCCL; otherwise the error that says so and names the fix.
Status CheckNcclBuilt();
// Rank 0's: the bootstrap id of a new NCCL group, the bytes every rank passes to
// JoinGroupCollective. An error in builds without NCCL.
Expected<std::string> MakeNcclBootstrapId();

// Free memory where options.backend keeps a shard (weights, KV cache): the host's for the
// CPU backend, the device's for CUDA.
Expected<uint64_t> BackendFreeMemory(const EngineOptions& options);

// Whether this build has the CUDA backend.
bool HaveCudaBackend();

}  // namespace tandem
