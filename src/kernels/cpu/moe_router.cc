#include "kernels/cpu/moe_router.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <vector>

namespace tandem {
namespace {

// ids = the k indices of the largest score, descending, ties to the lower index.
void TopK(const float* score, int64_t n, int64_t k, int32_t* ids) {
  assert(k > 0 && k <= n);
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int32_t a, int32_t b) { return score[a] > score[b] || (score[a] == score[b] && a < b); });
  std::copy(order.begin(), order.begin() + k, ids);
}

// Divides weights by their sum, clamped below like llama.cpp's build_moe_ffn.
void Normalize(float* weights, int64_t k) {
  float sum = 0.0f;
  for (int64_t i = 0; i < k; ++i) sum += weights[i];
  sum = std::max(sum, 6.103515625e-5f);
  for (int64_t i = 0; i < k; ++i) weights[i] /= sum;
}

}  // namespace

void RouteSoftmax(const float* logits, int64_t n_expert, int64_t k, bool norm_topk, int32_t* ids,
                  float* weights) {
  const float max_logit = *std::max_element(logits, logits + n_expert);
  std::vector<float> probs(n_expert);
  double sum = 0.0;
  for (int64_t e = 0; e < n_expert; ++e) {
    probs[e] = std::exp(logits[e] - max_logit);
    sum += probs[e];
  }
  const float inv_sum = static_cast<float>(1.0 / sum);
  for (float& p : probs) p *= inv_sum;
  TopK(probs.data(), n_expert, k, ids);
  for (int64_t i = 0; i < k; ++i) weights[i] = probs[ids[i]];
  if (norm_topk) Normalize(weights, k);
}

void RouteSigmoid(const float* logits, const float* bias, int64_t n_expert, int64_t k,
                  float expert_weights_scale, int32_t* ids, float* weights) {
  std::vector<float> s(n_expert);
  std::vector<float> selection(n_expert);
  for (int64_t e = 0; e < n_expert; ++e) {
    s[e] = 1.0f / (1.0f + std::exp(-logits[e]));
    selection[e] = bias ? s[e] + bias[e] : s[e];
  }
  TopK(selection.data(), n_expert, k, ids);
  for (int64_t i = 0; i < k; ++i) weights[i] = s[ids[i]];
  Normalize(weights, k);
  for (int64_t i = 0; i < k; ++i) weights[i] *= expert_weights_scale;
}

}  // namespace tandem
