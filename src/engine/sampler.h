// Chooses the next token: penalties over the recent tokens, then greedy or temperature
// sampling restricted by top-k, top-p and min-p, from a seeded generator.
//
// With the LM head split by vocabulary over ranks, no rank sees every logit. Each rank
// penalises its slice and sends the leader a SliceSummary: its best candidates plus its
// maximum and sum of exponentials, from which the leader computes the exact global
// softmax over the candidates. When the candidates cannot decide the token exactly
// (pure temperature sampling, or a top-p nucleus reaching past a rank's candidates) the
// leader asks for the whole vocabulary instead. One rank runs the same code, so a
// sharded run samples the same tokens as one rank with the same seed.
#pragma once

#include <cstdint>
#include <optional>
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

struct Candidate {
  float logit;  // penalised
  int32_t id;
};

// One rank's slice of the vocabulary, summarised for one sampling step.
struct SliceSummary {
  float max_logit = 0;
  float sum_exp = 0;       // sum over the slice of exp((logit - max_logit) / temperature); 0 when greedy
  bool complete = false;   // candidates hold the whole slice
  std::vector<Candidate> candidates;  // the best, by descending logit then ascending id
};

// The distinct tokens of the last penalty_last_n of `history`, the ones the penalties
// touch; empty when no penalty is set.
std::vector<int32_t> PenalisedTokens(const SamplingParams& params, std::span<const int32_t> history);

// The penalties on a slice: logits[i] is token vocab_begin + i.
void ApplyPenalties(const SamplingParams& params, std::span<float> logits, int64_t vocab_begin,
                    std::span<const int32_t> history);

// Candidates each rank sends: 1 when greedy, top_k when set, else kSummaryCandidates.
constexpr int64_t kSummaryCandidates = 256;
int64_t CandidatesPerSlice(const SamplingParams& params);

// logits: a penalised slice starting at token vocab_begin.
SliceSummary Summarize(const SamplingParams& params, std::span<const float> logits, int64_t vocab_begin);
// ApplyPenalties, then Summarize: a slice's sampling step on the host.
SliceSummary PenaliseAndSummarize(const SamplingParams& params, std::span<float> logits, int64_t vocab_begin,
                                  std::span<const int32_t> history);

// Summaries travel as floats: [max, sum_exp, complete, n, then n x (logit, id)], padded
// to PackedSummaryFloats(params) (ids < 2^24 are exact in a float).
int64_t PackedSummaryFloats(const SamplingParams& params);
void PackSummary(const SliceSummary& summary, std::span<float> out);
SliceSummary UnpackSummary(std::span<const float> packed);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

  // The token chosen from every rank's summary, or nullopt when they cannot decide it
  // exactly (then call SampleWhole). Draws from the generator only when it decides.
  std::optional<int32_t> SampleFromSummaries(std::span<const SliceSummary> slices);
  // logits: [n_vocab] whole and penalised.
  int32_t SampleWhole(std::span<const float> logits);
  // Penalties, then SampleWhole: one rank holding the whole vocabulary.
  int32_t Sample(std::span<float> logits, std::span<const int32_t> history);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<Candidate> merged_;  // scratch
  std::vector<double> probs_;      // scratch
};

}  // namespace tandem
