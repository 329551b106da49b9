#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace tandem {

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

int32_t Sampler::Sample(std::span<float> logits, std::span<const int32_t> history) {
  const int32_t n_vocab = static_cast<int32_t>(logits.size());
  if (params_.repetition_penalty != 1.0f || params_.presence_penalty != 0.0f) {
    size_t window = std::min(history.size(), static_cast<size_t>(params_.penalty_last_n));
    std::unordered_set<int32_t> seen(history.end() - window, history.end());
    for (int32_t id : seen) {
      if (id < 0 || id >= n_vocab) continue;
      float& l = logits[id];
      l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
      l -= params_.presence_penalty;
    }
  }
  if (params_.temperature == 0.0f) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  candidates_.clear();
  for (int32_t i = 0; i < n_vocab; ++i) candidates_.push_back({logits[i], i});
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
    candidates_.resize(keep);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // softmax at the temperature over the candidates, sorted by descending logit
  std::vector<double> probs(candidates_.size());
  double sum = 0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    probs[i] = std::exp((double{candidates_[i].first} - candidates_[0].first) / params_.temperature);
    sum += probs[i];
  }
  size_t n = candidates_.size();
  if (params_.min_p > 0.0f) {
    size_t m = 1;
    while (m < n && probs[m] >= params_.min_p * probs[0]) ++m;  // probs[0] is the max
    n = m;
  }
  if (params_.top_p < 1.0f) {
    double cumulative = 0;
    size_t m = 0;
    while (m < n) {
      cumulative += probs[m] / sum;
      ++m;
      if (cumulative >= params_.top_p) break;
    }
    n = m;
  }
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += probs[i];
  double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (size_t i = 0; i < n; ++i) {
    r -= probs[i];
    if (r < 0) return candidates_[i].second;
  }
  return candidates_[n - 1].second;
}

}  // namespace tandem
