// End to end: the engine on the CUDA backend gives the CPU backend's logits. Small
// synthetic models of both architectures (tests/sharding_models.h: 2 layers, n_embd 256,
// head_dim 128 with the real GQA ratio and n_rot, 8 experts top 2, FFN 768) in two recipes
// each. Teacher-forced: a 64-token prompt (prefill path: products in chunks of 8, one
// attention launch) gives every position's logits within kLogitBound. Greedy: 32 steps of
// one token (the decode path), both engines fed the CPU's greedy token, agree on the
// arg-max at every step whose top-2 margin exceeds kLogitBound; at every step the GPU's
// arg-max is within the bound of the CPU's best. (The synthetic models' LM heads repeat
// rows, so several tokens often tie exactly for the top: a tie is no disagreement.)
//
// With int8 activations (the CUDA default, --activations ggml on both sides) the two sides
// stop being bit-for-bit twins: an activation an ulp away on a rounding boundary takes the
// neighbouring int8 level, and such flips grow through the layers (~1e-2 of the logits).
// So the GPU is held to the accuracy of its CPU twin instead: against the exact f32 CPU
// logits, its error is within kTwinFactor of the CPU's own int8 error (plus kLogitBound);
// a wrong kernel is off by the logits' whole size. Greedy steps use kInt8LogitBound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "cuda_test_support.h"
#include "engine/cuda_backend.h"
#include "engine/engine.h"
#include "../sharding_models.h"

namespace tandem {
namespace {

using testing::ModelPath;
using testing::NormalisedError;

// Per position, max |gpu - cpu| / max |cpu logit|. The two backends differ only in the
// order of f32 sums (products, attention, norms) and exp/cos ulps: ~1e-6 per op, grown
// through 2 layers; 1e-3 leaves room for that and catches any wrong op (a wrong expert,
// head or position moves logits by ~1e-1 of their size).
constexpr double kLogitBound = 1e-3;
constexpr double kTwinFactor = 1.5;
// Int8 greedy steps: the teacher-forced errors measure 1.5e-2..2e-2 of the largest logit.
constexpr double kInt8LogitBound = 5e-2;
constexpr int64_t kPromptTokens = 64;
constexpr int kGreedySteps = 32;

// int8: both engines round activations like ggml (--activations ggml: the CUDA int8 dp4a
// products against the CPU backend rounding the same way); else both take f32 products.
struct Case {
  Arch arch;
  Recipe recipe;
  bool int8 = false;
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = fmt::format("{}_{}{}", ArchName(info.param.arch), RecipeName(info.param.recipe),
                                 info.param.int8 ? "_int8" : "");
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::unique_ptr<Engine> Load(const std::string& path, const char* backend, bool int8, int64_t n_ctx = 128,
                             int64_t n_seq = 1, bool overlap_qk_norm = false) {
  EngineOptions o;
  o.overlap_qk_norm = overlap_qk_norm;
  o.n_ctx = n_ctx;
  o.n_seq = n_seq;
  o.n_threads = 4;
  o.backend = backend;
  o.ggml_activation_rounding = int8;
  auto e = Engine::Load(path, o);
  EXPECT_TRUE(e.ok()) << backend << ": " << e.status().message();
  return e.ok() ? std::move(e).value() : nullptr;
}

std::vector<int32_t> Prompt(int64_t n_vocab) {
  std::mt19937 rng(1234);
  std::vector<int32_t> ids(kPromptTokens);
  for (int32_t& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
  return ids;
}

// Arg-max and the margin between the two largest logits.
std::pair<int32_t, float> Top(std::span<const float> logits) {
  int32_t best = 0;
  float first = -INFINITY, second = -INFINITY;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > first) {
      second = first;
      first = logits[i];
      best = static_cast<int32_t>(i);
    } else if (logits[i] > second) {
      second = logits[i];
    }
  }
  return {best, first - second};
}

float MaxAbs(std::span<const float> v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

class CudaEngineTest : public ::testing::TestWithParam<Case> {};

TEST_P(CudaEngineTest, TeacherForcedLogitsMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const std::string path = ModelPath(GetParam().arch, GetParam().recipe);
  auto cpu = Load(path, "cpu", GetParam().int8);
  auto gpu = Load(path, "cuda", GetParam().int8);
  ASSERT_TRUE(cpu && gpu);
  const int64_t n_vocab = cpu->config().shape.n_vocab;
  const std::vector<int32_t> prompt = Prompt(n_vocab);
  std::vector<float> want, got;
  ASSERT_TRUE(cpu->Forward(prompt, true, want).ok());
  const Status st = gpu->Forward(prompt, true, got);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(got.size(), want.size());
  auto at = [&](const std::vector<float>& v, int64_t p) { return std::span<const float>(v.data() + p * n_vocab, n_vocab); };
  if (GetParam().int8) {
    auto exact = Load(path, "cpu", false);
    ASSERT_TRUE(exact);
    std::vector<float> ref;
    ASSERT_TRUE(exact->Forward(prompt, true, ref).ok());
    double twin_worst = 0, gpu_worst = 0, twin_sum = 0, gpu_sum = 0;
    for (int64_t p = 0; p < kPromptTokens; ++p) {
      const double twin = NormalisedError(at(ref, p), at(want, p)), gpu_err = NormalisedError(at(ref, p), at(got, p));
      twin_worst = std::max(twin_worst, twin);
      gpu_worst = std::max(gpu_worst, gpu_err);
      twin_sum += twin;
      gpu_sum += gpu_err;
    }
    EXPECT_LE(gpu_worst, kTwinFactor * twin_worst + kLogitBound);
    EXPECT_LE(gpu_sum, kTwinFactor * twin_sum + kLogitBound * kPromptTokens);
    std::printf("  teacher-forced %s vs exact f32 logits: cuda int8 worst %.2e mean %.2e, cpu int8 twin worst %.2e "
                "mean %.2e (bound %.1fx twin + %.0e)\n",
                CaseName({GetParam(), 0}).c_str(), gpu_worst, gpu_sum / kPromptTokens, twin_worst,
                twin_sum / kPromptTokens, kTwinFactor, kLogitBound);
    return;
  }
  double worst = 0;
  int64_t worst_pos = 0;
  for (int64_t p = 0; p < kPromptTokens; ++p) {
    const double err = NormalisedError(at(want, p), at(got, p));
    if (err > worst) {
      worst = err;
      worst_pos = p;
    }
    EXPECT_LE(err, kLogitBound) << "position " << p;
  }
  std::printf("  teacher-forced %s: %lld positions, worst normalised logit error %.2e at position %lld (bound %.0e)\n",
              CaseName({GetParam(), 0}).c_str(), static_cast<long long>(kPromptTokens), worst,
              static_cast<long long>(worst_pos), kLogitBound);
}

TEST_P(CudaEngineTest, GreedyDecodeAgreesWithCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const std::string path = ModelPath(GetParam().arch, GetParam().recipe);
  auto cpu = Load(path, "cpu", GetParam().int8);
  auto gpu = Load(path, "cuda", GetParam().int8);
  ASSERT_TRUE(cpu && gpu);
  const int64_t n_vocab = cpu->config().shape.n_vocab;
  const std::vector<int32_t> full = Prompt(n_vocab);
  const std::vector<int32_t> prompt(full.begin(), full.begin() + 5);
  std::vector<float> want, got;
  ASSERT_TRUE(cpu->Forward(prompt, false, want).ok());
  ASSERT_TRUE(gpu->Forward(prompt, false, got).ok());
  int unique_top = 0, same_token = 0;
  double worst = 0;
  const double logit_bound = GetParam().int8 ? kInt8LogitBound : kLogitBound;
  for (int step = 0; step < kGreedySteps; ++step) {
    const auto [cpu_token, margin] = Top(want);
    const auto [gpu_token, gpu_margin] = Top(got);
    const float bound = static_cast<float>(logit_bound) * MaxAbs(want);
    const double err = NormalisedError(want, got);
    worst = std::max(worst, err);
    EXPECT_LE(err, logit_bound) << "step " << step;
    // The GPU's pick is one of the CPU's best within the bound; where the CPU's best is
    // ahead by more than the bound, it is the same token.
    EXPECT_GE(want[gpu_token], want[cpu_token] - bound) << "step " << step << ": gpu " << gpu_token << ", cpu "
                                                        << cpu_token;
    if (margin > bound) {
      ++unique_top;
      EXPECT_EQ(gpu_token, cpu_token) << "step " << step << ": margin " << margin;
    }
    same_token += gpu_token == cpu_token;
    const int32_t next[] = {cpu_token};  // both follow the CPU's choice
    ASSERT_TRUE(cpu->Forward(next, false, want).ok());
    const Status st = gpu->Forward(next, false, got);
    ASSERT_TRUE(st.ok()) << "step " << step << ": " << st.message();
  }
  std::printf("  greedy %s: %d steps, same arg-max at %d; %d steps with a top-2 margin over the bound, all equal; "
              "worst logit error %.2e\n",
              CaseName({GetParam(), 0}).c_str(), kGreedySteps, same_token, unique_top, worst);
}

// Decode steps after the first replay one CUDA graph per context class (128, 256, ... 4096
// positions: the attention's split count); the position is read on the device. From
// position 100 to 300 the steps cross two class boundaries: every step's logits stay within
// the bound of the CPU's, and three graphs were recorded.
TEST_P(CudaEngineTest, ReplayedStepsAcrossContextClassesMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  if (GetParam().int8) GTEST_SKIP() << "replay is checked with exact products";
  constexpr int64_t kFirst = 100, kLast = 300;
  const std::string path = ModelPath(GetParam().arch, GetParam().recipe);
  auto cpu = Load(path, "cpu", false, kLast + 1);
  auto gpu = Load(path, "cuda", false, kLast + 1);
  ASSERT_TRUE(cpu && gpu);
  const int64_t n_vocab = cpu->config().shape.n_vocab;
  std::mt19937 rng(77);
  std::vector<int32_t> ids(kLast);
  for (int32_t& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
  std::vector<float> want, got;
  const std::span<const int32_t> prompt(ids.data(), kFirst);
  ASSERT_TRUE(cpu->Forward(prompt, false, want).ok());
  ASSERT_TRUE(gpu->Forward(prompt, false, got).ok());
  double worst = 0;
  for (int64_t pos = kFirst; pos < kLast; ++pos) {
    const int32_t next[] = {ids[pos]};
    ASSERT_TRUE(cpu->Forward(next, false, want).ok());
    const Status st = gpu->Forward(next, false, got);
    ASSERT_TRUE(st.ok()) << "position " << pos << ": " << st.message();
    const double err = NormalisedError(want, got);
    worst = std::max(worst, err);
    EXPECT_LE(err, kLogitBound) << "position " << pos;
  }
  const size_t graphs = static_cast<CudaBackend&>(gpu->backend()).recorded_steps();
  EXPECT_EQ(graphs, 3u) << "context classes 128, 256 and 512";
  std::printf("  replayed %s: positions %lld..%lld, %zu recorded graphs, worst logit error %.2e (bound %.0e)\n",
              CaseName({GetParam(), 0}).c_str(), static_cast<long long>(kFirst), static_cast<long long>(kLast - 1),
              graphs, worst, kLogitBound);
}

// Batched decode: 4 sequences with prompts of prompt_len tokens, then steps of all 4
// (rows in another order than the slots) and of 3, each recorded once per context class
// and replayed: every row's logits within the bound of the CPU engine's same row (the
// CPU's batched rows equal its sequences run alone: engine_test), both fed the CPU's
// greedy tokens. With overlap_qk_norm the GPU's minimax-m2 attention runs around its
// q/k norm (AttentionScores, AttentionFromScores), the CPU's the usual way. Returns the
// recorded graphs.
size_t CheckBatchedSteps(const Case& c, const int64_t (&prompt_len)[4], bool overlap_qk_norm) {
  constexpr int64_t kSeqs = 4;
  constexpr int kSteps = 12;
  const std::string path = ModelPath(c.arch, c.recipe);
  auto cpu = Load(path, "cpu", false, 256, kSeqs);
  auto gpu = Load(path, "cuda", false, 256, kSeqs, overlap_qk_norm);
  EXPECT_TRUE(cpu && gpu);
  if (!cpu || !gpu) return 0;
  const int64_t n_vocab = cpu->config().shape.n_vocab;
  std::mt19937 rng(4321);
  std::vector<int32_t> ids(kSeqs + 128);
  for (int32_t& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
  for (int64_t s = 0; s < kSeqs; ++s) {
    const std::span<const int32_t> prompt(ids.data() + s, static_cast<size_t>(prompt_len[s]));
    EXPECT_TRUE(cpu->Step(prompt, s).ok());
    EXPECT_TRUE(gpu->Step(prompt, s).ok());
  }
  std::vector<int32_t> next = {ids[10], ids[11], ids[12], ids[13]};  // per sequence
  double worst = 0;
  for (int step = 0; step < kSteps; ++step) {
    // Odd steps leave sequence 1 out: a second recorded shape.
    std::vector<SeqToken> rows;
    for (int64_t s : {2, 0, 3, 1}) {
      if (step % 2 == 1 && s == 1) continue;
      rows.push_back({s, next[s]});
    }
    EXPECT_TRUE(cpu->StepBatch(rows).ok());
    const Status st = gpu->StepBatch(rows);
    EXPECT_TRUE(st.ok()) << "step " << step << ": " << st.message();
    if (!st.ok()) return 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      std::vector<float> want, got;
      EXPECT_TRUE(cpu->DownloadLogits(want, static_cast<int64_t>(r)).ok());
      EXPECT_TRUE(gpu->DownloadLogits(got, static_cast<int64_t>(r)).ok());
      const double err = NormalisedError(want, got);
      worst = std::max(worst, err);
      EXPECT_LE(err, kLogitBound) << "step " << step << ", sequence " << rows[r].seq;
      next[rows[r].seq] = Top(want).first;
    }
  }
  for (int64_t s = 0; s < kSeqs; ++s) EXPECT_EQ(gpu->n_past(s), cpu->n_past(s)) << "sequence " << s;
  const size_t graphs = static_cast<CudaBackend&>(gpu->backend()).recorded_steps();
  if (overlap_qk_norm) {  // one more step, live and profiled: it runs the two halves
    gpu->backend().ProfileOps(true);
    const SeqToken row{0, next[0]};
    EXPECT_TRUE(gpu->StepBatch(std::span(&row, 1)).ok());
    auto ops = gpu->backend().OpTimes();
    EXPECT_TRUE(ops.ok() && std::any_of(ops->begin(), ops->end(), [](const OpTime& op) {
                  return op.op == "attention_from_scores";
                })) << "the step did not run the attention around the q/k norm";
  }
  std::printf("  batched %s%s: %d steps of 4 and 3 sequences, %zu recorded graphs, worst logit error %.2e (bound "
              "%.0e)\n",
              CaseName({c, 0}).c_str(), overlap_qk_norm ? " around the q/k norm" : "", kSteps, graphs, worst,
              kLogitBound);
  return graphs;
}

TEST_P(CudaEngineTest, BatchedStepsMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  if (GetParam().int8) GTEST_SKIP() << "batched steps are checked with exact products";
  EXPECT_EQ(CheckBatchedSteps(GetParam(), {3, 60, 17, 1}, false), 2u)
      << "steps of 4 rows and of 3 rows, all in the context class of 128";
}

// The rows start at 0 to 123 positions and cross into the context class of 256.
TEST_P(CudaEngineTest, BatchedStepsAroundTheQkNormMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  if (GetParam().int8 || GetParam().arch != Arch::kMiniMaxM2) GTEST_SKIP() << "minimax-m2's norm, exact products";
  EXPECT_EQ(CheckBatchedSteps(GetParam(), {1, 123, 64, 120}, true), 4u)
      << "steps of 4 rows and of 3 rows in the context classes of 128 and 256";
}

INSTANTIATE_TEST_SUITE_P(Models, CudaEngineTest,
                         ::testing::Values(Case{Arch::kQwen3Moe, Recipe::kQ8_0}, Case{Arch::kQwen3Moe, Recipe::kQ4_K_M},
                                           Case{Arch::kMiniMaxM2, Recipe::kQ8_0},
                                           Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL},
                                           Case{Arch::kQwen3Moe, Recipe::kQ4_K_M, true},
                                           Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL, true}),
                         CaseName);

}  // namespace
}  // namespace tandem
