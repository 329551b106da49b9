// Length-prefixed messages over a pipe or socket (u32 length, then the bytes), with a
// deadline on reads: how forked ranks in tests and benchmarks pass their addresses and
// results to the parent that stands in for a coordinator.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace tandem {

using PipeClock = std::chrono::steady_clock;

// Writes all `bytes`; false when the other end is gone.
bool WriteAll(int fd, const void* data, size_t bytes);
// Reads up to `bytes` (all unless EOF or the deadline comes first); returns how many.
size_t ReadUntil(int fd, void* data, size_t bytes, PipeClock::time_point deadline);

bool WriteMessage(int fd, const void* data, size_t bytes);
// One message into `out`; false on EOF, a short message or the deadline.
bool ReadMessage(int fd, std::string& out, PipeClock::time_point deadline);

}  // namespace tandem
