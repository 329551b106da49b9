// Per-call latencies of one message over a collective, and their percentiles.
#pragma once

#include <span>
#include <vector>

#include "bench/comm/comm_plan.h"
#include "net/collective.h"

namespace tandem::bench {

struct Latency {
  double p50_us = 0;
  double p99_us = 0;
};

// samples: per-call times in µs (reordered).
Latency Percentiles(std::vector<double>& samples);

struct TimingOptions {
  int warmup = 200;  // calls before timing
  int iters = 2000;  // timed calls
};

// Times `message` on this rank of a host-memory collective, by the host clock; every rank
// of the group must run the same. Before each timed call the ranks line up with an
// untimed 1-float all-reduce, so a call starts on all ranks at about the same moment (as
// in a decode step) and a receiver's time is the message's latency, not how far a sender
// ran ahead. Values are random and refreshed every 32 calls (in-place sums would grow to
// inf). This rank's percentiles; report the slowest rank's (MaxOverRanks).
Expected<Latency> TimeHostMessage(Collective& group, const CommMessage& message, const TimingOptions& timing);

// The larger p50 and the larger p99 of the ranks'.
Latency MaxOverRanks(std::span<const Latency> ranks);

}  // namespace tandem::bench
