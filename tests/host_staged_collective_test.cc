// HostStagedCollective (engine/host_staged_collective.h) on the CPU backend: two ranks
// (threads over an InProcessGroup) whose buffers count as "backend memory" are staged
// through host copies (Download, the host collective, Upload) and must give the host
// collective's own results; buffers outside the backend go straight through.
#include "engine/host_staged_collective.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "engine/cpu_backend.h"
#include "net/in_process_collective.h"

namespace tandem {
namespace {

struct Rank {
  CpuBackend backend{CpuBackendOptions{1, false}};
  std::set<const void*> backend_buffers;  // what the predicate calls backend memory
  std::unique_ptr<HostStagedCollective> collective;
  int staged_calls = 0;                   // predicate answers "backend memory"

  Rank(std::shared_ptr<InProcessGroup> group, int rank) {
    collective = std::make_unique<HostStagedCollective>(
        std::make_unique<InProcessCollective>(std::move(group), rank), backend, [this](const void* p) {
          const bool staged = backend_buffers.count(p) > 0;
          staged_calls += staged ? 1 : 0;
          return staged;
        });
  }
  float* BackendFloats(int64_t n) {
    auto p = backend.Allocate(static_cast<uint64_t>(n) * sizeof(float));
    EXPECT_TRUE(p.ok()) << p.status().message();
    backend_buffers.insert(*p);
    return static_cast<float*>(*p);
  }
};

// Runs fn(rank) on two threads and returns when both are done.
template <class Fn>
void OnTwoRanks(Fn fn) {
  std::thread other([&] { fn(1); });
  fn(0);
  other.join();
}

TEST(HostStagedCollective, StagedCallsGiveTheHostCollectivesResults) {
  auto group = std::make_shared<InProcessGroup>(2, std::chrono::seconds(10));
  Rank ranks[2] = {Rank(group, 0), Rank(group, 1)};
  constexpr int64_t n = 1000;
  float* data[2] = {ranks[0].BackendFloats(n), ranks[1].BackendFloats(n)};
  float* recv = ranks[0].BackendFloats(2 * n);
  std::vector<float> host_data[2] = {std::vector<float>(n), std::vector<float>(n)};
  OnTwoRanks([&](int r) {
    Rank& me = ranks[r];
    for (int64_t i = 0; i < n; ++i) data[r][i] = static_cast<float>(r + 1) * (0.5f + static_cast<float>(i));
    ASSERT_TRUE(me.collective->AllReduceSum(data[r], n).ok());
    // Gather each rank's first n values (now the sum) into rank 0's backend buffer.
    const int64_t counts[] = {n, n};
    ASSERT_TRUE(me.collective->Gather(data[r], counts, r == 0 ? recv : nullptr, 0).ok());
    // A broadcast from rank 1 of a backend buffer, then one of a host buffer.
    if (r == 1) data[r][0] = 42.0f, host_data[r][0] = 7.0f;
    ASSERT_TRUE(me.collective->Broadcast(data[r], sizeof(float), 1).ok());
    ASSERT_TRUE(me.collective->Broadcast(host_data[r].data(), sizeof(float), 1).ok());
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(data[r][0], 42.0f) << "rank " << r;
    for (int64_t i = 1; i < n; ++i) ASSERT_EQ(data[r][i], 3.0f * (0.5f + static_cast<float>(i))) << "rank " << r;
    EXPECT_EQ(host_data[r][0], 7.0f) << "rank " << r;
    EXPECT_GT(ranks[r].staged_calls, 0) << "rank " << r << " staged nothing";
  }
  for (int64_t i = 0; i < 2 * n; ++i) ASSERT_EQ(recv[i], 3.0f * (0.5f + static_cast<float>(i % n))) << i;
}

TEST(HostStagedCollective, RefusesAGatherWithTheWrongCounts) {
  auto group = std::make_shared<InProcessGroup>(1, std::chrono::seconds(1));
  Rank rank(group, 0);
  float* send = rank.BackendFloats(4);
  const int64_t counts[] = {4, 4};
  const Status st = rank.collective->Gather(send, counts, send, 0);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("2 counts for a group of 1"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace tandem
