// Sharding is right: N ranks of one model in one process (in-process collective) give
// the logits and greedy tokens of one rank holding the whole model, and every rank holds
// the same bits after each block. Table: architecture x recipe x ranks, on a small shape
// with the real head_dim and GQA ratio so heads and FFN rows split unevenly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "coordinator/batch_scheduler.h"
#include "coordinator/local_cluster.h"
#include "coordinator/local_collective.h"
#include "engine/generate.h"
#include "sharding_models.h"

namespace tandem {
namespace {

using testing::ModelPath;

struct Case {
  Arch arch;
  Recipe recipe;
  int ranks;
  MoeSplit split = MoeSplit::kExpertTp;
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = fmt::format("{}_{}_{}ranks_{}", ArchName(info.param.arch), RecipeName(info.param.recipe),
                                 info.param.ranks, MoeSplitName(info.param.split));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

double RelativeMaxError(const std::vector<float>& want, const std::vector<float>& got) {
  double max_err = 0, max_abs = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_err = std::max(max_err, std::abs(double{want[i]} - got[i]));
    max_abs = std::max(max_abs, std::abs(double{want[i]}));
  }
  return max_err / max_abs;
}

const std::vector<int32_t> kPrompt = {9707, 11, 1879, 0, 576, 374, 264, 1273, 315, 279, 5339, 1849, 13, 151643, 42, 7};

EngineOptions Options() {
  EngineOptions o;
  o.n_ctx = 64;
  o.n_threads = 2;
  return o;
}

class ShardedEngineTest : public ::testing::TestWithParam<Case> {};

// Rank 0's teacher-forced logits match one rank's within 1e-4 of the largest logit: the
// ranks' partial sums add in another order than one rank's dot products, nothing else.
TEST_P(ShardedEngineTest, LogitsMatchOneRank) {
  const Case c = GetParam();
  const std::string path = ModelPath(c.arch, c.recipe);
  auto whole = Engine::Load(path, Options());
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  std::vector<float> want;
  ASSERT_TRUE((*whole)->Forward(kPrompt, true, want).ok());

  auto cluster = LocalCluster::Load(path, c.ranks, Options(), c.split);
  ASSERT_TRUE(cluster.ok()) << cluster.status().message();
  std::vector<std::vector<float>> got(c.ranks);
  Status st = (*cluster)->RunOnAllRanks([&](Engine& e) -> Status {
    std::vector<float> mine;  // this rank's vocabulary slice
    TANDEM_TRY(e.Forward(kPrompt, true, mine));
    if (static_cast<int64_t>(mine.size()) != static_cast<int64_t>(kPrompt.size()) * e.shard().n_vocab) {
      return Status::Error("rank {} returned {} logits", e.collective().rank(), mine.size());
    }
    return e.GatherLogits(mine, static_cast<int64_t>(kPrompt.size()), got[e.collective().rank()]);
  });
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(got[0].size(), want.size());
  for (int r = 1; r < c.ranks; ++r) EXPECT_TRUE(got[r].empty()) << "rank " << r << " returned logits";
  EXPECT_LT(RelativeMaxError(want, got[0]), 1e-4);
}

// After every block all ranks hold the same residual stream, bit for bit (the replicated
// router must pick the same experts everywhere).
TEST_P(ShardedEngineTest, RanksHoldIdenticalActivations) {
  const Case c = GetParam();
  auto cluster = LocalCluster::Load(ModelPath(c.arch, c.recipe), c.ranks, Options(), c.split);
  ASSERT_TRUE(cluster.ok()) << cluster.status().message();
  std::vector<std::vector<float>> layer_out(c.ranks);
  for (int r = 0; r < c.ranks; ++r) {
    (*cluster)->rank(r).SetObserver([&out = layer_out[r]](std::string_view name, int, const float* data,
                                                          int64_t n_tokens, int64_t n) {
      if (name == "layer_out") out.insert(out.end(), data, data + n_tokens * n);
    });
  }
  std::vector<std::vector<float>> logits(c.ranks);
  Status st = (*cluster)->RunOnAllRanks([&](Engine& e) {
    return e.Forward(kPrompt, false, logits[e.collective().rank()]);
  });
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_FALSE(layer_out[0].empty());
  for (int r = 1; r < c.ranks; ++r) {
    ASSERT_EQ(layer_out[r].size(), layer_out[0].size());
    EXPECT_EQ(std::memcmp(layer_out[r].data(), layer_out[0].data(), layer_out[0].size() * sizeof(float)), 0)
        << "rank " << r << " differs from rank 0";
  }
}

// Greedy generation: the leader samples and broadcasts; the tokens equal one rank's.
TEST_P(ShardedEngineTest, GreedyTokensMatchOneRank) {
  const Case c = GetParam();
  const std::string path = ModelPath(c.arch, c.recipe);
  SamplingParams greedy;
  greedy.temperature = 0;
  auto whole = Engine::Load(path, Options());
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  std::vector<int32_t> want, got;
  auto one = Generate(**whole, kPrompt, 16, greedy, {}, [&](int32_t t) {
    want.push_back(t);
    return true;
  });
  ASSERT_TRUE(one.ok()) << one.status().message();

  auto cluster = LocalCluster::Load(path, c.ranks, Options(), c.split);
  ASSERT_TRUE(cluster.ok()) << cluster.status().message();
  auto greedy_stats = (*cluster)->Generate(kPrompt, 16, greedy, {}, [&](int32_t t) {
    got.push_back(t);
    return true;
  });
  ASSERT_TRUE(greedy_stats.ok()) << greedy_stats.status().message();
  EXPECT_EQ(got, want);
  EXPECT_EQ(greedy_stats->generated_tokens, 16);
  // Sampling with the API's defaults (top-k, top-p, min-p) and penalties draws the same
  // tokens on N ranks as on one with the same seed. (Equality needs the candidates'
  // order to survive the ranks' summation order: the sampler test proves the sliced
  // sampling exact on identical logits, for every kind of sampling.)
  SamplingParams defaults;
  defaults.temperature = 0.8f;
  defaults.top_k = 40;
  defaults.top_p = 0.95f;
  defaults.min_p = 0.05f;
  defaults.repetition_penalty = 1.3f;
  defaults.presence_penalty = 0.5f;
  defaults.seed = 7;
  std::vector<int32_t> one_rank, n_ranks;
  (*whole)->Reset();
  ASSERT_TRUE(Generate(**whole, kPrompt, 12, defaults, {}, [&](int32_t t) {
                one_rank.push_back(t);
                return true;
              }).ok());
  ASSERT_TRUE((*cluster)->Generate(kPrompt, 12, defaults, {}, [&](int32_t t) {
                           n_ranks.push_back(t);
                           return true;
                         }).ok());
  EXPECT_EQ(n_ranks, one_rank);
  // Pure temperature sampling cannot be decided from the candidates: the leader gathers
  // the whole vocabulary every step.
  SamplingParams pure;
  pure.temperature = 1.5f;
  pure.seed = 11;
  std::vector<int32_t> sampled;
  auto stats = (*cluster)->Generate(kPrompt, 12, pure, {}, [&](int32_t t) {
    sampled.push_back(t);
    return true;
  });
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  ASSERT_EQ(sampled.size(), 12u);
  for (int32_t t : sampled) EXPECT_TRUE(t >= 0 && t < 200064) << t;
  // A second request on the same cluster starts from an empty cache.
  std::vector<int32_t> again;
  ASSERT_TRUE((*cluster)->Generate(kPrompt, 16, greedy, {}, [&](int32_t t) {
                           again.push_back(t);
                           return true;
                         }).ok());
  EXPECT_EQ(again, want);
}

// Requests from several threads at once decode together (one step for all of them, each
// in its own KV slot, each with its own sampler), and each gets the tokens it gets alone
// on one rank.
TEST(ShardedEngineBatching, ConcurrentRequestsDecodeTogetherAndMatchOneRank) {
  const std::string path = ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0);
  EngineOptions o = Options();
  o.n_seq = 3;
  SamplingParams greedy;
  SamplingParams sampled;
  sampled.temperature = 0.8f;
  sampled.top_k = 40;
  sampled.repetition_penalty = 1.3f;
  sampled.seed = 5;
  struct Request {
    std::vector<int32_t> prompt;
    SamplingParams sampling;
    int64_t max_tokens;
  };
  const std::vector<Request> requests = {{{1, 2, 3}, greedy, 16},
                                         {{kPrompt.begin(), kPrompt.end()}, sampled, 12},
                                         {{70000, 9, 400, 12345, 77}, greedy, 20}};
  auto whole = Engine::Load(path, Options());
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  std::vector<std::vector<int32_t>> want(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(Generate(**whole, requests[i].prompt, requests[i].max_tokens, requests[i].sampling, {},
                         [&](int32_t t) {
                           want[i].push_back(t);
                           return true;
                         })
                    .ok());
  }
  auto cluster = LocalCluster::Load(path, 2, o);
  ASSERT_TRUE(cluster.ok()) << cluster.status().message();
  EXPECT_EQ((*cluster)->parallel(), 3);
  std::vector<std::vector<int32_t>> got(requests.size());
  std::vector<Expected<GenerateStats>> stats(requests.size(), Status::Error("not run"));
  std::vector<std::thread> clients;
  for (size_t i = 0; i < requests.size(); ++i) {
    clients.emplace_back([&, i] {
      stats[i] = (*cluster)->Generate(requests[i].prompt, requests[i].max_tokens, requests[i].sampling, {},
                                      [&, i](int32_t t) {
                                        // The first request's first token waits for the others to queue up.
                                        if (i == 0 && got[i].empty()) std::this_thread::sleep_for(std::chrono::milliseconds(300));
                                        got[i].push_back(t);
                                        return true;
                                      });
    });
    if (i == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& t : clients) t.join();
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(stats[i].ok()) << stats[i].status().message();
    EXPECT_EQ(got[i], want[i]) << "request " << i;
    EXPECT_EQ(stats[i]->widest_step, 3) << "request " << i << " was not decoded together with the others";
  }
}

// A session that fails fails the requests it was given and those queued behind them
// (none hangs), and the scheduler serves the next requests in a new session.
TEST(ShardedEngineBatching, AFailedSessionFailsItsRequestsAndTheNextOneServes) {
  auto engine = Engine::Load(ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0), Options());
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  std::atomic<bool> broken{true};
  std::atomic<bool> release{false};
  BatchScheduler scheduler([&](const std::function<Status(Engine&)>& lead) -> Status {
    if (!broken) return lead(**engine);
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let requests queue up
    return Status::Unavailable("the group broke");
  });
  SamplingParams greedy;
  auto request = [&] { return SequenceRequest::Of(kPrompt, 4, greedy, {}, [](int32_t) { return true; }); };
  std::vector<Expected<GenerateStats>> failed(3, Status::Error("not run"));
  std::vector<std::thread> callers;
  for (size_t i = 0; i < failed.size(); ++i) callers.emplace_back([&, i] { failed[i] = scheduler.Generate(request()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  release = true;
  for (auto& t : callers) t.join();
  for (const auto& f : failed) {
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("the group broke"), std::string::npos) << f.status().message();
  }
  broken = false;
  auto served = scheduler.Generate(request());
  ASSERT_TRUE(served.ok()) << served.status().message();
  EXPECT_EQ(served->generated_tokens, 4);
}

// A request the leader refuses never reaches the other ranks; the cluster stays usable.
TEST(ShardedEngineErrors, RefusedRequestsLeaveTheClusterUsable) {
  EngineOptions o;
  o.n_ctx = 32;
  o.n_threads = 2;
  auto cluster = LocalCluster::Load(ModelPath(Arch::kMiniMaxM2, Recipe::kQ8_0), 2, o);
  ASSERT_TRUE(cluster.ok()) << cluster.status().message();
  SamplingParams greedy;
  auto on_token = [](int32_t) { return true; };
  auto too_long = (*cluster)->Generate(kPrompt, 30, greedy, {}, on_token);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("context"), std::string::npos) << too_long.status().message();
  SamplingParams bad = greedy;
  bad.top_p = 2;
  EXPECT_FALSE((*cluster)->Generate(kPrompt, 4, bad, {}, on_token).ok());
  // The leader stops early: every rank stops with it.
  int seen = 0;
  auto stats = (*cluster)->Generate(kPrompt, 8, greedy, {}, [&](int32_t) { return ++seen < 3; });
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->generated_tokens, 3);
}

INSTANTIATE_TEST_SUITE_P(Table, ShardedEngineTest,
                         ::testing::Values(Case{Arch::kQwen3Moe, Recipe::kF32, 2}, Case{Arch::kQwen3Moe, Recipe::kQ8_0, 3},
                                           Case{Arch::kQwen3Moe, Recipe::kQ4_K_M, 2},
                                           Case{Arch::kQwen3Moe, Recipe::kQ4_K_M, 3},
                                           Case{Arch::kMiniMaxM2, Recipe::kF32, 3},
                                           Case{Arch::kMiniMaxM2, Recipe::kQ8_0, 2},
                                           Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL, 2},
                                           Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL, 3},
                                           // expert-parallel: 8 experts as 4/4 and 3/3/2
                                           Case{Arch::kQwen3Moe, Recipe::kQ4_K_M, 2, MoeSplit::kExpertParallel},
                                           Case{Arch::kMiniMaxM2, Recipe::kQ8_0, 3, MoeSplit::kExpertParallel},
                                           Case{Arch::kMiniMaxM2, Recipe::kQ3_K_XL, 2, MoeSplit::kExpertParallel}),
                         CaseName);

// A rank that fails (here: a token outside the vocabulary on rank 1 only) ends the call
// on every rank with that rank's error instead of leaving the others waiting.
TEST(ShardedEngineErrors, AFailingRankDoesNotHangTheOthers) {
  const std::string path = ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0);
  EngineOptions o;
  o.n_ctx = 64;
  o.n_threads = 2;
  auto cluster = LocalCluster::Load(path, 2, o);
  ASSERT_TRUE(cluster.ok()) << cluster.status().message();
  std::vector<float> logits;
  Status st = (*cluster)->RunOnAllRanks([&](Engine& e) {
    std::vector<int32_t> tokens = {1, e.collective().rank() == 1 ? 999999 : 2};
    std::vector<float> mine;
    return e.Forward(tokens, false, mine);
  });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rank 1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("999999"), std::string::npos) << st.message();
  // The group works again afterwards.
  (*cluster)->rank(0).Reset();
  (*cluster)->rank(1).Reset();
  st = (*cluster)->RunOnAllRanks([&](Engine& e) {
    std::vector<int32_t> tokens = {1, 2};
    std::vector<float> mine;
    return e.Forward(tokens, false, mine);
  });
  EXPECT_TRUE(st.ok()) << st.message();
}

// minimax-m2's decode attention around its q/k norm's all-reduce (the path of NCCL ranks,
// forced here on CPU ranks): batched decode steps of two sequences at different depths
// give, row by row, the logits of one rank decoding each sequence alone the usual way.
TEST(ShardedEngineOverlap, AttentionAroundTheQkNormMatchesOneRank) {
  const std::string path = ModelPath(Arch::kMiniMaxM2, Recipe::kQ8_0);
  const std::vector<int32_t> prompts[2] = {{kPrompt.begin(), kPrompt.begin() + 9},
                                          {kPrompt.begin() + 3, kPrompt.begin() + 5}};
  const std::vector<int32_t> next[2] = {{42, 7, 1879, 11, 0}, {315, 279, 5339, 9707, 13}};
  const size_t n_steps = next[0].size();
  // want[s][i]: one rank's logits after sequence s's i-th decode token.
  std::vector<std::vector<float>> want[2];
  for (int s = 0; s < 2; ++s) {
    auto whole = Engine::Load(path, Options());
    ASSERT_TRUE(whole.ok()) << whole.status().message();
    std::vector<float> logits;
    ASSERT_TRUE((*whole)->Forward(prompts[s], false, logits).ok());
    for (int32_t t : next[s]) {
      ASSERT_TRUE((*whole)->Forward(std::span(&t, 1), false, logits).ok());
      want[s].push_back(logits);
    }
  }
  for (int ranks : {1, 2, 3}) {
    SCOPED_TRACE(::testing::Message() << ranks << " ranks");
    EngineOptions options = Options();
    options.n_seq = 2;
    options.overlap_qk_norm = true;
    auto cluster = LocalCluster::Load(path, ranks, options, MoeSplit::kExpertTp);
    ASSERT_TRUE(cluster.ok()) << cluster.status().message();
    std::vector<std::vector<float>> got[2];
    std::vector<OpTime> ops;
    Status st = (*cluster)->RunOnAllRanks([&](Engine& e) -> Status {
      const bool leader = e.collective().rank() == 0;
      if (leader) e.backend().ProfileOps(true);
      std::vector<float> mine, whole;
      for (int s = 0; s < 2; ++s) TANDEM_TRY(e.Forward(prompts[s], false, mine, s));
      for (size_t i = 0; i < n_steps; ++i) {
        const SeqToken rows[] = {{0, next[0][i]}, {1, next[1][i]}};
        TANDEM_TRY(e.StepBatch(rows));
        for (int s = 0; s < 2; ++s) {
          TANDEM_TRY(e.DownloadLogits(mine, s));
          TANDEM_TRY(e.GatherLogits(mine, 1, whole));
          if (leader) got[s].push_back(whole);
        }
      }
      if (!leader) return Status::Ok();
      TANDEM_ASSIGN_OR_RETURN(ops, e.backend().OpTimes());
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_TRUE(std::any_of(ops.begin(), ops.end(), [](const OpTime& op) { return op.op == "attention_scores"; }))
        << "the decode steps did not take the path around the norm";
    for (int s = 0; s < 2; ++s) {
      ASSERT_EQ(got[s].size(), n_steps);
      for (size_t i = 0; i < n_steps; ++i) {
        EXPECT_LT(RelativeMaxError(want[s][i], got[s][i]), 1e-4) << "sequence " << s << " step " << i;
      }
    }
  }
}

// Where a LocalCluster's ranks run: CPU ranks and a lone CUDA rank need no GPU each;
// CUDA ranks own one only where the machine has them (this one may have none: the test
// asks for one more than it has), and `own` says why not.
TEST(LocalPlacement, RanksOwnGpusOnlyWhereTheMachineHasThem) {
  EXPECT_FALSE(ParseRankGpus("many").ok());
  EngineOptions cpu;
  cpu.cuda_device = 0;
  auto p = PlaceRanks(cpu, 3, RankGpus::kOwn);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_FALSE(p->own_gpus) << "CPU ranks own no GPU";
  EngineOptions cuda;
  cuda.backend = "cuda";
  cuda.cuda_device = 64;  // GPUs 64 and 65: beyond any machine
  p = PlaceRanks(cuda, 1, RankGpus::kOwn);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->devices, std::vector<int>{64});
  p = PlaceRanks(cuda, 2, RankGpus::kAuto);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_FALSE(p->own_gpus);
  EXPECT_EQ(p->devices, (std::vector<int>{64, 64})) << "auto shares --device when the GPUs are missing";
  p = PlaceRanks(cuda, 2, RankGpus::kOwn);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("GPUs 64..65 need 66 GPUs"), std::string::npos) << p.status().message();
  EXPECT_NE(p.status().message().find("--gpus shared"), std::string::npos) << p.status().message();
}

TEST(ShardedEngineErrors, PlansThatCannotSplitAreExplained) {
  EngineOptions o;
  o.n_ctx = 16;
  auto five = LocalCluster::Load(ModelPath(Arch::kQwen3Moe, Recipe::kQ4_K_M), 5, o);
  ASSERT_FALSE(five.ok());
  EXPECT_NE(five.status().message().find("at most 4 ranks"), std::string::npos) << five.status().message();
  auto four = LocalCluster::Load(ModelPath(Arch::kQwen3Moe, Recipe::kQ4_K_M), 4, o, MoeSplit::kExpertTp);
  ASSERT_FALSE(four.ok());
  EXPECT_NE(four.status().message().find("at most 3 ranks, or --moe-split ep"), std::string::npos)
      << four.status().message();
  // Left to choose, the planner falls back to whole experts and says why.
  auto auto_four = LocalCluster::Load(ModelPath(Arch::kQwen3Moe, Recipe::kQ4_K_M), 4, o);
  ASSERT_TRUE(auto_four.ok()) << auto_four.status().message();
  EXPECT_EQ((*auto_four)->planned().split, MoeSplit::kExpertParallel);
  EXPECT_NE((*auto_four)->planned().why.find("expert-TP impossible"), std::string::npos) << (*auto_four)->planned().why;
}

}  // namespace
}  // namespace tandem
