// Sharded on one GPU: 2 and 3 ranks of a LocalCluster in this process, each a CUDA
// backend with its own stream on the same device, joined by the in-process device
// collective (net/device_collective.h), give the tokens of one CUDA rank holding the
// whole model. With --gpus own (cases named _own, run where the machine has a GPU per
// rank, skipped elsewhere) each rank owns a GPU and NCCL joins them, the decode steps
// replayed as CUDA graphs and minimax-m2's attention running around its q/k norm. Small synthetic models of both architectures (tests/sharding_models.h),
// expert-TP and expert-parallel splits. Per case:
//  - teacher-forced logits of a 16-token prompt (the prefill path, gathered on rank 0)
//    within kLogitBound of one rank's;
//  - every rank holds the same bits after every layer (the device all-reduce sums in
//    one order everywhere, so the replicated router picks the same experts);
//  - 32 greedy tokens through LocalCluster::Generate (the rank loop, the distributed
//    sampler, the decode path) equal one rank's. The ranks add their partial products in
//    another order than one rank does, so where one rank's best logit leads another
//    token's by less than kLogitBound of the largest logit, N ranks may pick that other
//    token: the tokens may part only at such a step, which is printed. (The synthetic LM
//    heads repeat rows, so several tokens often tie exactly for the top; both sides
//    break such a tie alike, and the count printed is of steps decided beyond the bound
//    up to exact ties.)
// Skips without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "coordinator/local_cluster.h"
#include "cuda_test_support.h"
#include "engine/generate.h"
#include "../sharding_models.h"

namespace tandem {
namespace {

using testing::ModelPath;
using testing::NormalisedError;

// Normalised logit error (max |N ranks - 1 rank| / max |1 rank|). The ranks change only
// the order of f32 sums (~1e-7 relative per add), grown through 2 layers; a wrong head,
// expert or slice moves logits by ~1e-1.
constexpr double kLogitBound = 1e-3;
constexpr int kGreedyTokens = 32;

const std::vector<int32_t> kPrompt = {9707, 11, 1879, 0, 576, 374, 264, 1273, 315, 279, 5339, 1849, 13, 151643, 42, 7};

struct Case {
  Arch arch;
  Recipe recipe;
  int ranks;
  MoeSplit split;
  RankGpus gpus = RankGpus::kShared;
};

int DeviceCount() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

#define SKIP_WITHOUT_GPUS(ranks)                                                                              \
  do {                                                                                                         \
    if (DeviceCount() < (ranks)) GTEST_SKIP() << "a GPU per rank: needs " << (ranks) << ", found " << DeviceCount(); \
  } while (0)

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = fmt::format("{}_{}_{}ranks_{}", ArchName(info.param.arch), RecipeName(info.param.recipe),
                                 info.param.ranks, MoeSplitName(info.param.split));
  if (info.param.gpus == RankGpus::kOwn) name += "_own";
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

EngineOptions CudaOptions() {
  EngineOptions o;
  o.backend = "cuda";
  o.n_ctx = 128;
  o.n_threads = 2;
  return o;
}

std::unique_ptr<LocalCluster> LoadCluster(const std::string& path, int ranks, MoeSplit split,
                                          RankGpus gpus = RankGpus::kShared) {
  auto c = LocalCluster::Load(path, ranks, CudaOptions(), split, gpus);
  EXPECT_TRUE(c.ok()) << ranks << " ranks: " << c.status().message();
  return c.ok() ? std::move(c).value() : nullptr;
}

// The prompt's logits on every position, [prompt, n_vocab], gathered on rank 0.
Expected<std::vector<float>> TeacherForcedLogits(LocalCluster& cluster) {
  std::vector<std::vector<float>> whole(static_cast<size_t>(cluster.size()));
  TANDEM_TRY(cluster.RunOnAllRanks([&](Engine& e) -> Status {
    e.Reset();
    std::vector<float> mine;
    TANDEM_TRY(e.Forward(kPrompt, true, mine));
    return e.GatherLogits(mine, static_cast<int64_t>(kPrompt.size()), whole[e.collective().rank()]);
  }));
  return std::move(whole[0]);
}

Expected<std::vector<int32_t>> GreedyTokens(LocalCluster& cluster) {
  SamplingParams greedy;
  greedy.temperature = 0;
  std::vector<int32_t> tokens;
  TANDEM_TRY(cluster.Generate(kPrompt, kGreedyTokens, greedy, {}, [&](int32_t t) {
                      tokens.push_back(t);
                      return true;
                    })
                 .status());
  return tokens;
}

// One CUDA rank's view of a model: its prompt logits, its greedy tokens, and the logits
// each greedy token was picked from.
struct OneRank {
  std::vector<float> prompt_logits;
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> step_logits;  // [kGreedyTokens][n_vocab]
};

float MaxAbs(std::span<const float> v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Whether the largest logit leads every logit of another value by more than `bound`
// (the greedy pick is decided up to exact ties).
bool DecidedBeyond(std::span<const float> logits, float bound) {
  const float best = *std::max_element(logits.begin(), logits.end());
  for (float x : logits) {
    if (x != best && x >= best - bound) return false;
  }
  return true;
}

// Computed once per model (the cases of a model share it).
const OneRank& OneRankOf(Arch arch, Recipe recipe) {
  static std::map<std::pair<Arch, Recipe>, OneRank> cache;
  auto [it, fresh] = cache.try_emplace({arch, recipe});
  OneRank& one = it->second;
  if (!fresh) return one;
  auto cluster = LoadCluster(ModelPath(arch, recipe), 1, MoeSplit::kAuto);
  if (!cluster) return one;
  auto logits = TeacherForcedLogits(*cluster);
  EXPECT_TRUE(logits.ok()) << logits.status().message();
  if (logits.ok()) one.prompt_logits = std::move(logits).value();
  auto tokens = GreedyTokens(*cluster);
  EXPECT_TRUE(tokens.ok()) << tokens.status().message();
  if (!tokens.ok()) return one;
  one.tokens = std::move(tokens).value();
  // The greedy steps again, teacher-forced with the tokens just drawn.
  Engine& e = cluster->rank(0);
  e.Reset();
  std::vector<float> logits_now;
  EXPECT_TRUE(e.Forward(kPrompt, false, logits_now).ok());
  for (int32_t token : one.tokens) {
    one.step_logits.push_back(logits_now);
    const int32_t next[] = {token};
    EXPECT_TRUE(e.Forward(next, false, logits_now).ok());
  }
  return one;
}

class CudaShardedEngineTest : public ::testing::TestWithParam<Case> {};

TEST_P(CudaShardedEngineTest, MatchesOneRank) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const Case c = GetParam();
  if (c.gpus == RankGpus::kOwn) SKIP_WITHOUT_GPUS(c.ranks);
  const OneRank& one = OneRankOf(c.arch, c.recipe);
  ASSERT_EQ(one.tokens.size(), static_cast<size_t>(kGreedyTokens));
  auto cluster = LoadCluster(ModelPath(c.arch, c.recipe), c.ranks, c.split, c.gpus);
  ASSERT_TRUE(cluster);
  EXPECT_EQ(cluster->collective_name(), c.gpus == RankGpus::kOwn ? "nccl+in-process" : "in-process-cuda");
  for (int r = 0; r < c.ranks; ++r) {
    EXPECT_EQ(cluster->placement().devices[r], c.gpus == RankGpus::kOwn ? r : 0) << "rank " << r << "'s GPU";
  }

  auto logits = TeacherForcedLogits(*cluster);
  ASSERT_TRUE(logits.ok()) << logits.status().message();
  const double logit_error = NormalisedError(one.prompt_logits, *logits);
  EXPECT_LE(logit_error, kLogitBound);

  // Every rank's residual stream after every layer, bit for bit.
  std::vector<std::vector<float>> layer_out(static_cast<size_t>(c.ranks));
  for (int r = 0; r < c.ranks; ++r) {
    cluster->rank(r).SetObserver([&out = layer_out[r]](std::string_view name, int, const float* data,
                                                       int64_t n_tokens, int64_t n) {
      if (name == "layer_out") out.insert(out.end(), data, data + n_tokens * n);
    });
  }
  ASSERT_TRUE(TeacherForcedLogits(*cluster).ok());
  for (int r = 0; r < c.ranks; ++r) cluster->rank(r).SetObserver(nullptr);
  ASSERT_FALSE(layer_out[0].empty());
  for (int r = 1; r < c.ranks; ++r) {
    ASSERT_EQ(layer_out[r].size(), layer_out[0].size());
    EXPECT_EQ(std::memcmp(layer_out[r].data(), layer_out[0].data(), layer_out[0].size() * sizeof(float)), 0)
        << "rank " << r << "'s activations differ from rank 0's";
  }

  auto tokens = GreedyTokens(*cluster);
  ASSERT_TRUE(tokens.ok()) << tokens.status().message();
  ASSERT_EQ(tokens->size(), one.tokens.size());
  const auto [mine, theirs] = std::mismatch(tokens->begin(), tokens->end(), one.tokens.begin());
  std::string parted = "nowhere";
  if (mine != tokens->end()) {
    const size_t step = static_cast<size_t>(mine - tokens->begin());
    const std::vector<float>& w = one.step_logits[step];
    const float bound = static_cast<float>(kLogitBound) * MaxAbs(w);
    parted = fmt::format("at step {}: token {} (one rank's logit {:.6g}) vs one rank's {} ({:.6g}), bound {:.3g}", step,
                         *mine, w[*mine], *theirs, w[*theirs], bound);
    EXPECT_GE(w[*mine], w[*theirs] - bound) << "N ranks picked a token one rank ranks clearly lower: " << parted;
  }
  int decided = 0;
  for (const std::vector<float>& w : one.step_logits) {
    decided += DecidedBeyond(w, static_cast<float>(kLogitBound) * MaxAbs(w));
  }
  std::printf("  %s: prompt logits within %.2e of one rank's (bound %.0e), activations bit-identical on %d ranks; "
              "%d greedy tokens, %d decided beyond the bound up to exact ties; tokens part %s\n",
              CaseName({GetParam(), 0}).c_str(), logit_error, kLogitBound, c.ranks, kGreedyTokens, decided,
              parted.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Models, CudaShardedEngineTest,
    ::testing::Values(Case{Arch::kQwen3Moe, Recipe::kQ4_K_M, 2, MoeSplit::kExpertTp},
                      Case{Arch::kQwen3Moe, Recipe::kQ4_K_M, 3, MoeSplit::kExpertTp},
                      Case{Arch::kQwen3Moe, Recipe::kQ4_K_M, 2, MoeSplit::kExpertParallel},
                      Case{Arch::kQwen3Moe, Recipe::kQ8_0, 3, MoeSplit::kExpertParallel},
                      Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL, 2, MoeSplit::kExpertTp},
                      Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL, 3, MoeSplit::kExpertTp},
                      Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL, 2, MoeSplit::kExpertParallel},
                      Case{Arch::kMiniMaxM2, Recipe::kQ8_0, 3, MoeSplit::kExpertParallel},
                      Case{Arch::kQwen3Moe, Recipe::kQ4_K_M, 2, MoeSplit::kExpertTp, RankGpus::kOwn},
                      Case{Arch::kQwen3Moe, Recipe::kQ4_K_M, 3, MoeSplit::kExpertTp, RankGpus::kOwn},
                      Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL, 2, MoeSplit::kExpertTp, RankGpus::kOwn},
                      Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL, 3, MoeSplit::kExpertTp, RankGpus::kOwn}),
    CaseName);

// A rank that fails (a token outside the vocabulary on rank 1 only) ends the call on
// every rank with its error instead of leaving the others waiting; the group works again.
// With a GPU each, the others wait in NCCL's kernels: the failure aborts the NCCL group
// and the cluster makes a new one.
void CheckAFailingRankDoesNotHangTheOthers(RankGpus gpus) {
  auto cluster = LoadCluster(ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0), 2, MoeSplit::kExpertTp, gpus);
  ASSERT_TRUE(cluster);
  Status st = cluster->RunOnAllRanks([&](Engine& e) {
    std::vector<int32_t> tokens = {1, e.collective().rank() == 1 ? 999999 : 2};
    std::vector<float> mine;
    return e.Forward(tokens, false, mine);
  });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rank 1"), std::string::npos) << st.message();
  cluster->rank(0).Reset();
  cluster->rank(1).Reset();
  st = cluster->RunOnAllRanks([&](Engine& e) {
    std::vector<int32_t> tokens = {1, 2};
    std::vector<float> mine;
    return e.Forward(tokens, false, mine);
  });
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(CudaShardedEngineErrors, AFailingRankDoesNotHangTheOthers) {
  SKIP_WITHOUT_CUDA_DEVICE();
  CheckAFailingRankDoesNotHangTheOthers(RankGpus::kShared);
}

TEST(CudaShardedEngineErrors, AFailingRankOnItsOwnGpuDoesNotHangTheOthers) {
  SKIP_WITHOUT_CUDA_DEVICE();
  SKIP_WITHOUT_GPUS(2);
  CheckAFailingRankDoesNotHangTheOthers(RankGpus::kOwn);
}

// --gpus own where the machine lacks the GPUs is refused with the count and the fix.
TEST(CudaShardedEngineErrors, OwnGpusBeyondTheMachineAreRefused) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int ranks = DeviceCount() + 1;
  auto c = LocalCluster::Load(ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0), ranks, CudaOptions(), MoeSplit::kAuto,
                              RankGpus::kOwn);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--gpus shared"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace tandem
