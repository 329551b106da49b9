// The CUDA backend's sampling summary (penalties and the best candidates on the device,
// kernels/cuda/logit_summary.h) against the CPU backend's, which is ApplyPenalties then
// Summarize (engine/sampler.h) on the host: for the vocabulary sizes of both
// architectures, a 2-rank slice and odd sizes; greedy, top-k, temperature-only (256
// candidates) and a top-k past the device rounds (the host path); with and without
// penalties; logits with ties (the lower id first). Candidates and the penalised logits
// must be identical; the sum of exponentials (double sums in another order) within 1e-6.
// Without a CUDA device every test skips with the reason.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "engine/cpu_backend.h"
#include "engine/cuda_backend.h"
#include "kernels/cuda/logit_summary.h"

namespace tandem {
namespace {

using testing::FromDevice;
using testing::MakeCudaBackend;
using testing::ToDevice;

struct SliceCase {
  const char* name;
  int64_t n;            // logits in the slice
  int64_t vocab_begin;  // token id of the first
};

constexpr SliceCase kSlices[] = {
    {"qwen3 vocab", 151936, 0},
    {"minimax vocab", 200064, 0},
    {"qwen3 rank 1 of 2", 75968, 75968},
    {"odd 1001", 1001, 0},
    {"tiny 7", 7, 3},
};

struct ParamsCase {
  const char* name;
  SamplingParams params;
};

SamplingParams Params(float temperature, int32_t top_k, float repetition, float presence) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.repetition_penalty = repetition;
  p.presence_penalty = presence;
  return p;
}

const ParamsCase kParams[] = {
    {"greedy", Params(0.0f, 0, 1.0f, 0.0f)},
    {"greedy + penalties", Params(0.0f, 0, 1.3f, 0.4f)},
    {"top-k 40, T 0.7", Params(0.7f, 40, 1.0f, 0.0f)},
    {"T 0.8 (256), penalties", Params(0.8f, 0, 1.1f, 0.2f)},
    {"top-k 1000, T 1.2", Params(1.2f, 1000, 1.0f, 0.0f)},
    {"top-k 1500 (host path)", Params(0.9f, 1500, 1.2f, 0.0f)},
};

// Gaussian logits with ties: every 97th repeats its neighbour and the largest appears twice.
std::vector<float> MakeLogits(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> l(static_cast<size_t>(n));
  for (float& x : l) x = normal(rng);
  for (int64_t i = 1; i < n; i += 97) l[i] = l[i - 1];
  if (n > 2) {
    const auto top = std::max_element(l.begin(), l.end()) - l.begin();
    l[static_cast<size_t>((top + n / 2) % n)] = l[top];
  }
  return l;
}

// Recent tokens: repeats, ids outside the slice, and the slice's best token.
std::vector<int32_t> MakeHistory(const std::vector<float>& logits, int64_t vocab_begin, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t n = static_cast<int64_t>(logits.size());
  std::uniform_int_distribution<int64_t> any(0, vocab_begin + 2 * n);
  std::vector<int32_t> h;
  for (int i = 0; i < 90; ++i) h.push_back(static_cast<int32_t>(any(rng)));
  for (int i = 0; i < 10; ++i) h.push_back(h[static_cast<size_t>(i)]);
  const auto top = std::max_element(logits.begin(), logits.end()) - logits.begin();
  h.push_back(static_cast<int32_t>(vocab_begin + top));
  return h;
}

TEST(LogitSummary, KeysOrderLikeCandidates) {
  // Higher logit first, then the lower id; negative and positive logits, zero, infinities.
  const float logits[] = {-INFINITY, -3.5f, -0.0f, 0.0f, 1e-30f, 2.0f, 2.0f, INFINITY};
  for (float a : logits) {
    for (float b : logits) {
      for (int32_t ia : {0, 5, 200000}) {
        for (int32_t ib : {1, 5, 199999}) {
          const bool a_better = a > b || (a == b && ia < ib);
          const bool b_better = b > a || (a == b && ib < ia);
          if (!a_better && !b_better) continue;  // the same candidate (-0 and 0 compare equal)
          EXPECT_EQ(TopKey(a, ia) > TopKey(b, ib), a_better) << a << "/" << ia << " vs " << b << "/" << ib;
        }
      }
      EXPECT_EQ(TopKeyLogit(TopKey(a, 7)), a);
      EXPECT_EQ(TopKeyId(TopKey(a, 199999)), 199999);
    }
  }
}

TEST(LogitSummary, CudaMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto gpu = MakeCudaBackend();
  ASSERT_NE(gpu, nullptr);
  CpuBackend cpu(CpuBackendOptions{});
  uint32_t seed = 1;
  for (const SliceCase& slice : kSlices) {
    for (const ParamsCase& pc : kParams) {
      const std::string name = std::string(slice.name) + ", " + pc.name;
      SCOPED_TRACE(name);
      const std::vector<float> logits = MakeLogits(slice.n, seed++);
      const std::vector<int32_t> history = MakeHistory(logits, slice.vocab_begin, seed++);

      std::vector<float> cpu_logits = logits;  // the CPU backend's memory is the host's
      auto want = cpu.SummarizeLogits(pc.params, cpu_logits.data(), slice.n, slice.vocab_begin, history);
      ASSERT_TRUE(want.ok()) << want.status().message();
      float* device = ToDevice(*gpu, logits);
      auto got = gpu->SummarizeLogits(pc.params, device, slice.n, slice.vocab_begin, history);
      ASSERT_TRUE(got.ok()) << got.status().message();

      EXPECT_EQ(got->complete, want->complete);
      EXPECT_EQ(got->max_logit, want->max_logit);
      ASSERT_EQ(got->candidates.size(), want->candidates.size());
      size_t first_diff = want->candidates.size();
      for (size_t i = 0; i < want->candidates.size(); ++i) {
        if (got->candidates[i].id != want->candidates[i].id || got->candidates[i].logit != want->candidates[i].logit) {
          first_diff = i;
          break;
        }
      }
      EXPECT_EQ(first_diff, want->candidates.size()) << "first differing candidate";
      const double sum_error =
          want->sum_exp > 0 ? std::fabs(double{got->sum_exp} - want->sum_exp) / want->sum_exp : got->sum_exp;
      EXPECT_LE(sum_error, 1e-6);
      const std::vector<float> penalised = FromDevice(*gpu, device, slice.n);
      EXPECT_EQ(penalised, cpu_logits) << "penalised logits differ";
      std::printf("  %-44s %zu candidates, best id %d, sum_exp error %.1e  %s\n", name.c_str(),
                  want->candidates.size(), want->candidates.empty() ? -1 : want->candidates[0].id, sum_error,
                  first_diff == want->candidates.size() && sum_error <= 1e-6 ? "ok" : "FAIL");
    }
  }
}

}  // namespace
}  // namespace tandem
