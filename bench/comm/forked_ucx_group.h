// A UCX group of ranks that are forked processes of this one, for benchmarks: each rank
// makes its UCX worker, the parent relays every worker address to every rank through
// pipes (standing in for the coordinator's control plane), the ranks connect and run a
// body, and each sends back one line of text. Fork before this process starts CUDA or
// UCX itself; the children leave with _exit.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "net/ucx_collective.h"

namespace tandem::bench {

// A rank's work: its text (no newlines) on success.
using UcxRankBody = std::function<Expected<std::string>(UcxCollective& group)>;

// Every rank's text in rank order, or the first rank's error. Ranks still running after
// `limit` are killed and reported.
Expected<std::vector<std::string>> RunForkedUcxGroup(int ranks, const UcxOptions& options, const UcxRankBody& body,
                                                     std::chrono::seconds limit);

}  // namespace tandem::bench
