// `tandem bench comm`'s plan and arithmetic (bench/comm): the decode step's messages at
// the real models' sizes, percentiles, comm per token, and a short in-process run.
#include <gtest/gtest.h>

#include "bench/comm/comm_plan.h"
#include "bench/comm/comm_result.h"
#include "bench/comm/host_runs.h"

namespace tandem::bench {
namespace {

TEST(CommPlanTest, MiniMaxHasThreeAllReducesPerLayer) {
  const std::vector<CommMessage> m = DecodeStepMessages(RealShape(Arch::kMiniMaxM2));
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0].op, CommOp::kAllReduce);
  EXPECT_EQ(m[0].count, 3072);
  EXPECT_EQ(m[0].per_token, 62);
  EXPECT_EQ(m[1].count, 2);  // q/k-norm partial sums of squares
  EXPECT_EQ(m[1].bytes(), 8);
  EXPECT_EQ(m[2].count, 3072);
  EXPECT_EQ(m[3].op, CommOp::kGather);
  EXPECT_EQ(m[3].count, 6);  // greedy summary: max, sum, complete, n, one (logit, id)
  EXPECT_EQ(m[4].count, 4 + 2 * 256);
  EXPECT_EQ(m[4].per_token, 0);
  EXPECT_EQ(m[5].op, CommOp::kBroadcast);
  EXPECT_EQ(m[5].bytes(), 12);
  int64_t per_token = 0;
  for (const CommMessage& x : m) per_token += x.per_token;
  EXPECT_EQ(per_token, 3 * 62 + 2);
}

TEST(CommPlanTest, Qwen3HasTwoAllReducesPerLayer) {
  const std::vector<CommMessage> m = DecodeStepMessages(RealShape(Arch::kQwen3Moe));
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0].count, 2048);
  EXPECT_EQ(m[1].count, 2048);
  int64_t per_token = 0;
  for (const CommMessage& x : m) per_token += x.per_token;
  EXPECT_EQ(per_token, 2 * 48 + 2);
}

TEST(CommLatencyTest, PercentilesAndPerToken) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  const Latency l = Percentiles(samples);
  EXPECT_EQ(l.p50_us, 51);
  EXPECT_EQ(l.p99_us, 100);
  const std::vector<CommMessage> m = {{"a", CommOp::kAllReduce, 4, 10}, {"b", CommOp::kBroadcast, 12, 1}};
  BackendResult r{"x", 2, {{2.0, 3.0}, {5.0, 9.0}}, {}};
  EXPECT_DOUBLE_EQ(r.PerTokenMicros(m), 25.0);
}

TEST(CommBenchTest, InProcessRunsEveryMessage) {
  const std::vector<CommMessage> m = DecodeStepMessages(RealShape(Arch::kMiniMaxM2));
  const BackendResult r = BenchInProcess(3, m, TimingOptions{2, 20});
  ASSERT_TRUE(r.skipped.empty()) << r.skipped;
  ASSERT_EQ(r.per_message.size(), m.size());
  for (const Latency& l : r.per_message) {
    EXPECT_GT(l.p50_us, 0);
    EXPECT_GE(l.p99_us, l.p50_us);
  }
}

}  // namespace
}  // namespace tandem::bench
