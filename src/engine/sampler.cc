#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace tandem {
namespace {

bool Better(const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }

}  // namespace

Status ValidateSampling(const SamplingParams& p) {
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) {
    return Status::Error("temperature {} must be >= 0 (0 = greedy)", p.temperature);
  }
  if (p.top_k < 0) return Status::Error("top-k {} must be >= 0 (0 = off)", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return Status::Error("top-p {} must be in (0, 1]", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) return Status::Error("min-p {} must be in [0, 1)", p.min_p);
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) {
    return Status::Error("repetition penalty {} must be > 0 (1 = off)", p.repetition_penalty);
  }
  if (!std::isfinite(p.presence_penalty)) return Status::Error("presence penalty must be finite");
  if (p.penalty_last_n < 0) return Status::Error("penalty window {} must be >= 0", p.penalty_last_n);
  return Status::Ok();
}

std::vector<int32_t> PenalisedTokens(const SamplingParams& p, std::span<const int32_t> history) {
  if (p.repetition_penalty == 1.0f && p.presence_penalty == 0.0f) return {};
  const size_t window = std::min(history.size(), static_cast<size_t>(p.penalty_last_n));
  const std::unordered_set<int32_t> seen(history.end() - static_cast<std::ptrdiff_t>(window), history.end());
  return {seen.begin(), seen.end()};
}

void ApplyPenalties(const SamplingParams& p, std::span<float> logits, int64_t vocab_begin,
                    std::span<const int32_t> history) {
  const int64_t n = static_cast<int64_t>(logits.size());
  for (int32_t id : PenalisedTokens(p, history)) {
    const int64_t i = id - vocab_begin;
    if (i < 0 || i >= n) continue;
    float& l = logits[i];
    l = l > 0 ? l / p.repetition_penalty : l * p.repetition_penalty;
    l -= p.presence_penalty;
  }
}

int64_t CandidatesPerSlice(const SamplingParams& p) {
  if (p.temperature == 0.0f) return 1;
  return p.top_k > 0 ? p.top_k : kSummaryCandidates;
}

SliceSummary Summarize(const SamplingParams& p, std::span<const float> logits, int64_t vocab_begin) {
  SliceSummary s;
  const int64_t n = static_cast<int64_t>(logits.size());
  const int64_t keep = std::min(CandidatesPerSlice(p), n);
  s.complete = keep == n;
  s.candidates.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) s.candidates[i] = {logits[i], static_cast<int32_t>(vocab_begin + i)};
  std::partial_sort(s.candidates.begin(), s.candidates.begin() + keep, s.candidates.end(), Better);
  s.candidates.resize(static_cast<size_t>(keep));
  s.max_logit = keep > 0 ? s.candidates[0].logit : -INFINITY;
  if (p.temperature > 0.0f) {
    double sum = 0;
    for (float l : logits) sum += std::exp((double{l} - s.max_logit) / p.temperature);
    s.sum_exp = static_cast<float>(sum);
  }
  return s;
}

SliceSummary PenaliseAndSummarize(const SamplingParams& p, std::span<float> logits, int64_t vocab_begin,
                                  std::span<const int32_t> history) {
  ApplyPenalties(p, logits, vocab_begin, history);
  return Summarize(p, logits, vocab_begin);
}

int64_t PackedSummaryFloats(const SamplingParams& p) { return 4 + 2 * CandidatesPerSlice(p); }

void PackSummary(const SliceSummary& s, std::span<float> out) {
  std::fill(out.begin(), out.end(), 0.0f);
  out[0] = s.max_logit;
  out[1] = s.sum_exp;
  out[2] = s.complete ? 1.0f : 0.0f;
  out[3] = static_cast<float>(s.candidates.size());
  for (size_t i = 0; i < s.candidates.size(); ++i) {
    out[4 + 2 * i] = s.candidates[i].logit;
    out[5 + 2 * i] = static_cast<float>(s.candidates[i].id);
  }
}

SliceSummary UnpackSummary(std::span<const float> in) {
  SliceSummary s;
  s.max_logit = in[0];
  s.sum_exp = in[1];
  s.complete = in[2] != 0.0f;
  const size_t n = static_cast<size_t>(in[3]);
  for (size_t i = 0; i < n; ++i) s.candidates.push_back({in[4 + 2 * i], static_cast<int32_t>(in[5 + 2 * i])});
  return s;
}

std::optional<int32_t> Sampler::SampleFromSummaries(std::span<const SliceSummary> slices) {
  merged_.clear();
  for (const SliceSummary& s : slices) merged_.insert(merged_.end(), s.candidates.begin(), s.candidates.end());
  std::sort(merged_.begin(), merged_.end(), Better);
  if (merged_.empty()) return std::nullopt;
  if (params_.temperature == 0.0f) return merged_[0].id;  // every rank sent its best
  // Tokens no rank sent have logits no higher than `limit`, the lowest candidate of the
  // ranks that did not send their whole slice. The kept set is exact once no such token
  // could be in it.
  float limit = -INFINITY;
  for (const SliceSummary& s : slices) {
    if (!s.complete && !s.candidates.empty()) limit = std::max(limit, s.candidates.back().logit);
  }
  bool exact = limit == -INFINITY;
  size_t n = merged_.size();
  if (params_.top_k > 0) {  // every rank sent its top_k, so the union holds the global top_k
    n = std::min(n, static_cast<size_t>(params_.top_k));
    exact = true;
  }
  const double t = params_.temperature, top = merged_[0].logit;
  probs_.resize(n);
  for (size_t i = 0; i < n; ++i) probs_[i] = std::exp((double{merged_[i].logit} - top) / t);
  // top-p is relative to the mass of the top-k set, or of the whole vocabulary.
  double z = 0;
  if (params_.top_k > 0) {
    for (size_t i = 0; i < n; ++i) z += probs_[i];
  } else {
    for (const SliceSummary& s : slices) z += double{s.sum_exp} * std::exp((double{s.max_logit} - top) / t);
  }
  if (params_.min_p > 0.0f) {
    size_t m = 1;
    while (m < n && probs_[m] >= params_.min_p * probs_[0]) ++m;  // probs_[0] is the max
    n = m;
    if (std::exp((double{limit} - top) / t) < params_.min_p) exact = true;  // no unsent token passes
  }
  if (params_.top_p < 1.0f) {
    double cumulative = 0;
    size_t m = 0;
    while (m < n && cumulative < params_.top_p) cumulative += probs_[m++] / z;
    if (cumulative >= params_.top_p && merged_[m - 1].logit > limit) exact = true;  // unsent tokens come later
    n = m;
  }
  if (!exact) return std::nullopt;
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += probs_[i];
  double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (size_t i = 0; i < n; ++i) {
    r -= probs_[i];
    if (r < 0) return merged_[i].id;
  }
  return merged_[n - 1].id;
}

int32_t Sampler::SampleWhole(std::span<const float> logits) {
  SamplingParams whole = params_;
  whole.top_k = params_.top_k > 0 ? params_.top_k : static_cast<int32_t>(logits.size());
  SliceSummary all = Summarize(whole, logits, 0);
  all.complete = true;
  // With every token a candidate (or the top_k), the summary always decides.
  return SampleFromSummaries(std::span(&all, 1)).value_or(all.candidates.empty() ? 0 : all.candidates[0].id);
}

int32_t Sampler::Sample(std::span<float> logits, std::span<const int32_t> history) {
  ApplyPenalties(params_, logits, 0, history);
  return SampleWhole(logits);
}

}  // namespace tandem
