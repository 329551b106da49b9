// The decode step's messages timed over host-memory collectives: the in-process one
// (ranks are threads) and UCX (ranks are forked processes of this one, on this machine).
#pragma once

#include "bench/comm/comm_result.h"
#include "net/ucx_worker.h"

namespace tandem::bench {

BackendResult BenchInProcess(int ranks, const std::vector<CommMessage>& messages, const TimingOptions& timing);

// transports: UCX_TLS syntax ("tcp,self", "sm,self"); name: the table's column.
BackendResult BenchUcx(const std::string& name, const std::string& transports, int ranks,
                       const std::vector<CommMessage>& messages, const TimingOptions& timing);

}  // namespace tandem::bench
