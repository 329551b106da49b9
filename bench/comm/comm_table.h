// `tandem bench comm`'s output: a table of p50/p99 µs per message and backend, then
// each backend's collectives per token and comm µs per token; the same as CSV.
#pragma once

#include <string>
#include <vector>

#include "bench/comm/comm_result.h"

namespace tandem::bench {

std::string FormatCommTable(const std::vector<CommMessage>& messages, const std::vector<BackendResult>& results);

// Columns: backend,ranks,collective,op,bytes,per_token,p50_us,p99_us; one row per message
// and backend, then a "comm per token" row per backend (p50_us = its µs per token).
Status WriteCommCsv(const std::string& path, const std::vector<CommMessage>& messages,
                    const std::vector<BackendResult>& results);

}  // namespace tandem::bench
