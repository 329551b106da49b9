// Several requests decoded together on every rank of a sharded engine: each holds a KV
// slot of its own, and one batched decode step per iteration (Engine::StepBatch) reads
// the weights once for all of them; new requests join between steps. Every rank keeps the
// same SequenceBatch state, changed only by what the leader broadcasts (the admissions of
// an iteration, then each sampled token), so no per-token control message leaves the group.
//
// An iteration on every rank: a header (shutdown, or how many requests join); each joining
// request's slot, sampling values and prompt; the next chunk of every prompt not yet run
// (a prompt's last chunk gives its first token, sampled at once); then one decode step of
// every sequence past its prompt and a sampling round for all of them: one gather of every
// row's summary, one broadcast of the leader's words. The
// words also say whether the next iteration has a header: while sequences are in flight
// and none may join, an iteration is the decode step alone (two collectives per token
// besides the layers').
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"
#include "engine/generate.h"
#include "engine/sampler.h"

namespace tandem {

struct SequenceRequest {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 1;
  SamplingParams sampling;
  int64_t synthetic_depth = 0;  // benchmarks: positions of synthetic context before the prompt
  // Leader only:
  std::vector<int32_t> eog;     // tokens that end the request (passed to on_token, not run)
  TokenCallback on_token;       // each sampled token; false stops the request
  std::function<void(const GenerateStats&)> on_done;  // once, when it ends

  static SequenceRequest Of(std::span<const int32_t> prompt, int64_t max_tokens, const SamplingParams& sampling,
                            std::span<const int32_t> eog, const TokenCallback& on_token) {
    SequenceRequest r;
    r.prompt.assign(prompt.begin(), prompt.end());
    r.max_tokens = max_tokens;
    r.sampling = sampling;
    r.eog.assign(eog.begin(), eog.end());
    r.on_token = on_token;
    return r;
  }
};

class SequenceBatch {
 public:
  // prefill_chunk: prompt tokens each joining request runs per iteration, so that a long
  // prompt delays the other sequences' next tokens by a chunk's time, not by its whole.
  explicit SequenceBatch(Engine& engine, int64_t prefill_chunk = kPrefillChunk);
  static constexpr int64_t kPrefillChunk = 256;

  // Sequences that can be in flight at once (Engine::step_capacity).
  int64_t capacity() const { return static_cast<int64_t>(slots_.size()); }
  int64_t in_flight() const;  // requests joined and not ended (prompts still running included)
  // Whether the next iteration can take joining requests: the last one's words announced
  // a header (its Lead said more_may_join) or nothing is in flight.
  bool accepts_joining() const { return header_due_ || in_flight() == 0; }

  // Leader: one iteration. `joining` (at most capacity() - in_flight() requests, each
  // checked beforehand: CheckRequest; none unless accepts_joining()) take free slots,
  // their prompts run and their first tokens are sampled; then every sequence in flight
  // decodes one token. A request that ends (end token, max_tokens, on_token said stop)
  // calls on_done and frees its slot. more_may_join: let the next iteration take joining
  // requests. An error leaves the batch unusable (the group failed).
  Status Lead(std::vector<SequenceRequest> joining, bool more_may_join = false);
  // Leader: `joining` join at once (as Lead), then iterations until every request ended.
  Status LeadToEnd(std::vector<SequenceRequest> joining);
  // Leader: tells the other ranks to return from Follow.
  Status LeadShutdown();
  // Other ranks: runs the leader's iterations until it shuts the group down (Ok) or a
  // collective fails (the error).
  Status Follow();

 private:
  using Clock = std::chrono::steady_clock;

  // What every rank knows of a sequence in flight.
  struct Sequence {
    SamplingParams sampling;
    std::vector<int32_t> history;  // prompt, then every sampled token
    int64_t prompt_tokens = 0;
    int64_t prompt_run = 0;        // prompt tokens in the cache so far
    int32_t next = 0;              // sampled, runs in the next decode step
    // Leader only:
    SequenceRequest request;
    std::unique_ptr<Sampler> sampler;
    GenerateStats stats;
    Clock::time_point joined_at, prefilled_at;
  };

  // The same steps on every rank once the iteration's joining requests are known.
  Status Iterate(std::vector<std::pair<int64_t, SequenceRequest>>& joining);
  // A sampling round over logit rows 0..n-1 of the sequences in `slots` (row r: slots[r]).
  Status SampleRows(const std::vector<int64_t>& slots);
  // Leader: what the sampled token means for the sequence: word = {token, 1, 1 to go on}.
  void Conclude(Sequence& s, int32_t token, int32_t word[3]);

  Engine& engine_;
  Collective& group_;
  bool leader_;
  int64_t prefill_chunk_;
  bool header_due_ = true;   // the next iteration starts with a header
  bool may_join_ = false;    // leader: what the words of this iteration announce
  std::vector<std::optional<Sequence>> slots_;  // [capacity]
  std::vector<float> packed_, all_packed_;      // this rank's summaries; the leader's gather of all
  std::vector<int32_t> words_;                  // [rows, 3] then 1 when the next iteration has a header
  std::vector<float> mine_, whole_;             // an undecided row: this rank's slice; the whole vocabulary
};

}  // namespace tandem
