// Test-only bootstrap of a UCX group: forks one process per rank, exchanges the worker
// addresses through pipes, connects, runs a body in every rank and brings back what
// each rank reported. Children never touch gtest: they report lines through a pipe and
// leave with _exit.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "net/ucx_collective.h"

namespace tandem::testing {

// What one rank's body says: "FAIL: ..." lines fail the test, other lines are printed.
using RankReport = std::vector<std::string>;

struct RankOutcome {
  int exit_code = -1;  // -1: killed or crashed
  RankReport lines;
};

using RankBody = std::function<void(UcxCollective& group, RankReport& report)>;

// Runs `body` on every rank of a `ranks`-process group. A rank that cannot connect
// reports a FAIL line. Children still alive after `limit` are killed (exit_code -1).
std::vector<RankOutcome> RunUcxGroup(int ranks, const UcxOptions& options, const RankBody& body,
                                     std::chrono::seconds limit = std::chrono::seconds(20));

// Runs `body` in one forked child (UCX stays out of the gtest process).
RankOutcome RunInChild(const std::function<void(RankReport& report)>& body,
                       std::chrono::seconds limit = std::chrono::seconds(20));

}  // namespace tandem::testing
