// Chooses the next token from logits: penalties over the recent tokens, then greedy or
// temperature sampling restricted by top-k, top-p and min-p, from a seeded generator.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "common/status.h"

namespace tandem {

struct SamplingParams {
  float temperature = 0.0f;         // 0: greedy (argmax; ties to the lower id)
  int32_t top_k = 0;                // 0: off
  float top_p = 1.0f;               // 1: off
  float min_p = 0.0f;               // 0: off; keeps tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // 1: off; divides positive / multiplies negative logits of seen tokens
  float presence_penalty = 0.0f;    // 0: off; subtracted once from logits of seen tokens
  int32_t penalty_last_n = 64;      // how many recent tokens the penalties look at
  uint64_t seed = 0;
};

// Errors name the parameter and its valid range.
Status ValidateSampling(const SamplingParams& params);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

  // logits: [n_vocab] f32, modified in place by the penalties. history: tokens so far.
  int32_t Sample(std::span<float> logits, std::span<const int32_t> history);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // (logit, id) scratch
};

}  // namespace tandem
