// The device half of a sampling step (engine/sampler.h: ApplyPenalties, then Summarize):
// penalties applied to a rank's logit slice in place, then the slice's best k logits by
// (logit descending, id ascending) and, for temperature sampling, each chunk's maximum and
// sum of exponentials. Only k candidates and a few numbers leave the device per token
// instead of the whole slice (150K-200K logits). Their CPU twins are ApplyPenalties and
// Summarize themselves.
//
// How: a candidate is one 64-bit key (TopKey) whose order is the candidates' order. Each
// block takes a chunk of kTopKeysChunk logits, sorts their keys in shared memory (bitonic;
// k == 1 is a block maximum) and writes its best k; the same kernel over those keys
// repeats until one chunk is left, so the best k of the slice come out in order.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>

namespace tandem {

inline constexpr int kTopKeysChunk = 2048;             // keys one block sorts
inline constexpr int kTopKeysMaxK = kTopKeysChunk / 2;  // k that still halves the keys per round

// Larger key = better candidate: the logit's bits made order-preserving in the high half,
// ~id in the low half (ties to the lower id; -0 counts as +0, as it compares). 0 stands for
// no candidate.
inline uint64_t TopKey(float logit, int32_t id) {
  if (logit == 0.0f) logit = 0.0f;
  uint32_t bits;
  std::memcpy(&bits, &logit, sizeof bits);
  bits = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
  return static_cast<uint64_t>(bits) << 32 | (0xffffffffu - static_cast<uint32_t>(id));
}
inline float TopKeyLogit(uint64_t key) {
  uint32_t bits = static_cast<uint32_t>(key >> 32);
  bits = (bits & 0x80000000u) != 0 ? bits & 0x7fffffffu : ~bits;
  float logit;
  std::memcpy(&logit, &bits, sizeof logit);
  return logit;
}
inline int32_t TopKeyId(uint64_t key) { return static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(key)); }

// For each of the n_ids distinct token ids (device int32): logits[id - vocab_begin], when
// inside [0, n), divided (if positive) or multiplied (if not) by `repetition`, then minus
// `presence`; IEEE-rounded like ApplyPenalties.
cudaError_t PenalizeLogits(float* logits, int64_t n, int64_t vocab_begin, const int32_t* ids, int n_ids,
                           float repetition, float presence, cudaStream_t stream);

// Chunks of kTopKeysChunk the first round cuts n values into.
inline int64_t TopKeyChunks(int64_t n) { return (n + kTopKeysChunk - 1) / kTopKeysChunk; }

// Round one over logits: device f32 [n], token vocab_begin + i. Chunk c writes its best k
// keys, descending (0 past its end), to keys[c * k ..) and, when temperature > 0,
// stats[2c] = its maximum logit, stats[2c + 1] = the sum over it of
// exp((logit - maximum) / temperature) (double). 1 <= k <= kTopKeysMaxK.
cudaError_t TopKeysOfLogits(const float* logits, int64_t n, int64_t vocab_begin, int k, float temperature,
                            uint64_t* keys, double* stats, cudaStream_t stream);
// Later rounds: the same over n keys (device) into keys_out.
cudaError_t TopKeysOfKeys(const uint64_t* keys, int64_t n, int k, uint64_t* keys_out, cudaStream_t stream);

}  // namespace tandem
