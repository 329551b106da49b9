#include "engine/generate.h"

#include <algorithm>
#include <chrono>

namespace tandem {
namespace {

// One sampling step over the ranks' vocabulary slices: every rank penalises its slice
// and sends the leader a summary (engine/sampler.h), both where the logits are (the GPU
// for the CUDA backend); the leader picks the token, or, when the summaries cannot decide
// it exactly, gathers the whole vocabulary and picks from it.
class DistributedSampling {
 public:
  DistributedSampling(Engine& engine, const SamplingParams& params)
      : engine_(engine),
        group_(engine.collective()),
        params_(params),
        sampler_(params),
        packed_(static_cast<size_t>(PackedSummaryFloats(params))),
        counts_(static_cast<size_t>(group_.size()), PackedSummaryFloats(params)) {
    if (group_.rank() == 0) all_packed_.resize(packed_.size() * static_cast<size_t>(group_.size()));
  }

  // The token on the leader; other ranks get 0 (they learn it from the leader's word).
  Expected<int32_t> Sample(std::span<const int32_t> history, bool& decided) {
    TANDEM_ASSIGN_OR_RETURN(SliceSummary mine, engine_.SummarizeLogits(params_, history));
    PackSummary(mine, packed_);
    TANDEM_TRY(group_.Gather(packed_.data(), counts_, all_packed_.data(), 0));
    if (group_.rank() != 0) return 0;
    std::vector<SliceSummary> slices;
    for (int r = 0; r < group_.size(); ++r) {
      slices.push_back(UnpackSummary(std::span(all_packed_).subspan(r * packed_.size(), packed_.size())));
    }
    std::optional<int32_t> token = sampler_.SampleFromSummaries(slices);
    decided = token.has_value();
    return token.value_or(0);
  }

  // After an undecided step: the whole penalised vocabulary on the leader.
  Expected<int32_t> SampleWhole() {
    TANDEM_TRY(engine_.DownloadLogits(mine_));
    TANDEM_TRY(engine_.GatherLogits(mine_, 1, whole_));
    return group_.rank() == 0 ? sampler_.SampleWhole(whole_) : 0;
  }

 private:
  Engine& engine_;
  Collective& group_;
  SamplingParams params_;
  Sampler sampler_;                 // draws on the leader only
  std::vector<float> packed_;       // this rank's summary
  std::vector<int64_t> counts_;     // [ranks] floats per summary
  std::vector<float> all_packed_;   // leader: every rank's summary
  std::vector<float> mine_;         // this rank's penalised slice, when needed
  std::vector<float> whole_;        // leader: the whole vocabulary, when needed
};

}  // namespace

Expected<GenerateStats> Generate(Engine& engine, std::span<const int32_t> prompt, int64_t max_tokens,
                                 const SamplingParams& sampling, std::span<const int32_t> eog,
                                 const TokenCallback& on_token) {
  TANDEM_TRY(ValidateSampling(sampling));
  if (prompt.empty()) return Status::Error("the prompt is empty: give at least one token");
  if (max_tokens < 1) return Status::Error("-n {} must be at least 1", max_tokens);
  const int64_t n_ctx = engine.n_ctx();
  if (engine.n_past() + static_cast<int64_t>(prompt.size()) + max_tokens > n_ctx + 1) {
    return Status::Error("prompt of {} tokens + -n {} do not fit the context of {} positions: raise --ctx or lower -n",
                         prompt.size(), max_tokens, n_ctx);
  }
  using Clock = std::chrono::steady_clock;
  GenerateStats stats;
  stats.prompt_tokens = static_cast<int64_t>(prompt.size());
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  DistributedSampling sampling_step(engine, sampling);
  Collective& group = engine.collective();
  const bool leader = group.rank() == 0;

  auto t0 = Clock::now();
  TANDEM_TRY(engine.Step(prompt));
  auto t1 = Clock::now();
  stats.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  for (int64_t i = 0; i < max_tokens; ++i) {
    // The leader samples and decides whether to go on; the other ranks follow its word:
    // {token, 1 when decided, 1 when the token is run next}.
    int32_t word[3] = {0, 0, 0};
    bool decided = false;
    TANDEM_ASSIGN_OR_RETURN(word[0], sampling_step.Sample(history, decided));
    auto conclude = [&] {
      word[1] = 1;
      const bool end = std::find(eog.begin(), eog.end(), word[0]) != eog.end();
      const bool more = on_token(word[0]);
      if (end) stats.stopped_at_eog = true;
      word[2] = !end && more && i + 1 < max_tokens;
    };
    if (leader && decided) conclude();
    TANDEM_TRY(group.Broadcast(word, sizeof(word), 0));
    if (word[1] == 0) {
      TANDEM_ASSIGN_OR_RETURN(word[0], sampling_step.SampleWhole());
      if (leader) conclude();
      TANDEM_TRY(group.Broadcast(word, sizeof(word), 0));
    }
    ++stats.generated_tokens;
    history.push_back(word[0]);
    if (word[2] == 0) break;
    TANDEM_TRY(engine.Step(std::span(word, 1)));
  }
  stats.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return stats;
}

}  // namespace tandem
