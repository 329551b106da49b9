// ThreadPool: every index covered exactly once by contiguous chunks, n = 0, n smaller than
// the pool, a pool of one, many calls in a row.
#include "common/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace tandem {
namespace {

struct PoolCase {
  int threads;
  int64_t n;
};

constexpr PoolCase kPoolCases[] = {
    {1, 0}, {1, 1}, {1, 100}, {2, 0}, {2, 1}, {2, 2}, {2, 3}, {4, 3}, {4, 1000}, {7, 151936}, {3, 768},
};

TEST(ThreadPoolTest, CoversEveryIndexOnceInContiguousChunks) {
  for (const PoolCase& c : kPoolCases) {
    SCOPED_TRACE(testing::Message() << "threads " << c.threads << " n " << c.n);
    ThreadPool pool(c.threads);
    EXPECT_EQ(pool.size(), c.threads);
    std::vector<std::atomic<int>> hits(c.n);
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> chunks;
    pool.ParallelFor(c.n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      std::lock_guard lock(mu);
      chunks.emplace_back(begin, end);
    });
    for (int64_t i = 0; i < c.n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
    EXPECT_LE(chunks.size(), static_cast<size_t>(c.threads));
    for (const auto& [begin, end] : chunks) EXPECT_LT(begin, end);
  }
}

TEST(ThreadPoolTest, UsesSeveralThreads) {
  ThreadPool pool(4);
  std::mutex mu;
  std::vector<std::thread::id> ids;
  pool.ParallelFor(4, [&](int64_t, int64_t) {
    std::lock_guard lock(mu);
    ids.push_back(std::this_thread::get_id());
  });
  ASSERT_EQ(ids.size(), 4u);
  for (size_t i = 0; i < ids.size(); ++i) {
    for (size_t j = i + 1; j < ids.size(); ++j) EXPECT_NE(ids[i], ids[j]);
  }
}

TEST(ThreadPoolTest, ManyCallsInARow) {
  ThreadPool pool(3);
  std::atomic<int64_t> total = 0;
  for (int call = 0; call < 2000; ++call) {
    pool.ParallelFor(call % 7, [&](int64_t begin, int64_t end) { total += end - begin; });
  }
  int64_t expected = 0;
  for (int call = 0; call < 2000; ++call) expected += call % 7;
  EXPECT_EQ(total.load(), expected);
}

TEST(ThreadPoolTest, DefaultSizeIsHardwareConcurrency) {
  ThreadPool pool;
  EXPECT_EQ(pool.size(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace
}  // namespace tandem
