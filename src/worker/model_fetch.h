// A worker's copy of a model it does not have: the coordinator's file fetched piece by
// piece into sparse files of the same size — every part's header first (so the copy opens
// like the original and has its fingerprint), then only the byte ranges of this worker's
// shard. A sidecar "<first part>.tandem-fetched" lists the ranges present; its presence
// marks the copy as partial, so a later shard fetches what it lacks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster.grpc.pb.h"
#include "common/status.h"
#include "engine/shard_bytes.h"

namespace tandem {

// bytes done, bytes in all
using FetchProgress = std::function<void(uint64_t done, uint64_t total)>;

// Whether `path` is a partial copy made by FetchModelHeaders.
bool IsPartialCopy(const std::string& path);

// Writes every part's header into sparse files; returns the path of the first part to
// open (`path` itself for a single-file model; for a split model the coordinator's part
// names in path's directory).
Expected<std::string> FetchModelHeaders(cluster::v1::ModelSource::Stub& source, const std::string& path);

// Fetches the ranges of `want` that the copy at `path` (its first part) lacks.
Status FetchModelRanges(cluster::v1::ModelSource::Stub& source, const std::string& path,
                        const std::vector<FileRange>& want, const FetchProgress& progress);

}  // namespace tandem
