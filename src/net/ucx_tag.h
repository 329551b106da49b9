// The 64-bit UCX tag of every message a UCX group sends. Receives match all bits, so a
// fast rank's message for a later collective waits in UCX's unexpected queue instead of
// being taken for the current one.
//   bits 63..60  kind of exchange (UcxTagKind)
//   bits 59..16  sequence number of the exchange (44 bits: 1.7e13 collectives)
//   bits 15..0   sender's rank
#pragma once

#include <cstdint>

namespace tandem {

enum class UcxTagKind : uint64_t { kHello = 1, kReady = 2, kAllReduce = 3, kBroadcast = 4, kGather = 5 };

constexpr uint64_t kUcxTagMatchAll = ~uint64_t{0};

constexpr uint64_t UcxTag(UcxTagKind kind, uint64_t sequence, int sender) {
  return (static_cast<uint64_t>(kind) << 60) | ((sequence & ((uint64_t{1} << 44) - 1)) << 16) |
         (static_cast<uint64_t>(sender) & 0xffff);
}

constexpr int kUcxMaxRanks = 1 << 16;

}  // namespace tandem
