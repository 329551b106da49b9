// Where ranks that are threads of one process meet: a barrier that fails instead of
// hanging, and one slot per rank where it posts the address of its buffer for the
// others to read. Both in-process collectives run on it: InProcessCollective (host
// memory, net/in_process_collective.h) and DeviceInProcessCollective (device memory,
// net/device_collective.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/status.h"

namespace tandem {

// The shared state of one group; create it once, then one collective per rank.
class InProcessGroup {
 public:
  // A rank that waits longer than `timeout` for the others fails with an error instead
  // of hanging (a peer that died or took another path), and aborts the group.
  explicit InProcessGroup(int size, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  int size() const { return size_; }
  // Makes every waiting and later Arrive fail (a rank hit an error and leaves).
  void Abort();
  // Clears an abort; only while no rank is inside a collective.
  void Reset();

  // Waits until all ranks arrive at this phase.
  Status Arrive(int rank);
  // Rank `rank`'s buffer for the current collective: posted before an Arrive, read by
  // the others after it (the barrier's lock orders the two) until the next Arrive.
  void Post(int rank, const void* buffer) { posted_[static_cast<size_t>(rank)] = buffer; }
  const void* posted(int rank) const { return posted_[static_cast<size_t>(rank)]; }

 private:
  const int size_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t phase_ = 0;
  bool aborted_ = false;
  std::vector<const void*> posted_;  // [size] each rank's buffer in the current collective
};

}  // namespace tandem
