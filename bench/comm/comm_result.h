// What one collective implementation measured over the decode step's messages.
#pragma once

#include <string>
#include <vector>

#include "bench/comm/latency.h"

namespace tandem::bench {

struct BackendResult {
  std::string name;                 // "ucx tcp"
  int ranks = 0;
  std::vector<Latency> per_message;  // [messages], in DecodeStepMessages order; empty if skipped
  std::string skipped;              // why it did not run, or empty

  // Σ per_token x p50 over the messages: the collectives' µs per decode token.
  double PerTokenMicros(const std::vector<CommMessage>& messages) const;
};

}  // namespace tandem::bench
