// The in-process device collective (net/device_collective.h): 2, 3 and 9 ranks as
// threads of this process, each with its own stream, buffers in device memory of one
// GPU. AllReduceSum leaves every rank the bits of the host's in-order sum from 0.0f
// (data chosen so that, from 3 ranks on, another order gives other bits); Broadcast and Gather move device and
// host buffers; an abort or a missing rank makes a waiting rank fail promptly.
// 9 ranks take the sum kernel past the 8 inputs of one launch. Skips without a device.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <thread>

#include "cuda_test_support.h"
#include "net/device_collective.h"

namespace tandem {
namespace {

using Clock = std::chrono::steady_clock;

// One rank's stream and device buffers, freed at the end of the test.
class RankDevice {
 public:
  RankDevice() { EXPECT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess); }
  ~RankDevice() {
    cudaStreamSynchronize(stream_);
    for (void* p : buffers_) cudaFree(p);
    cudaStreamDestroy(stream_);
  }
  cudaStream_t stream() const { return stream_; }

  // A device copy of `host`, queued on the rank's stream (the collective must wait for it).
  template <typename T>
  T* Upload(const std::vector<T>& host) {
    void* p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, std::max<size_t>(host.size() * sizeof(T), 4)), cudaSuccess);
    buffers_.push_back(p);
    EXPECT_EQ(cudaMemsetAsync(p, 0xff, host.size() * sizeof(T), stream_), cudaSuccess);
    EXPECT_EQ(cudaMemcpyAsync(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice, stream_), cudaSuccess);
    return static_cast<T*>(p);
  }
  // What `device` holds once the stream has run everything queued on it.
  template <typename T>
  std::vector<T> Download(const T* device, size_t n) {
    std::vector<T> host(n);
    EXPECT_EQ(cudaMemcpyAsync(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost, stream_), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    return host;
  }

 private:
  cudaStream_t stream_ = nullptr;
  std::vector<void*> buffers_;
};

// Runs fn(rank, collective, device) on `ranks` threads at once; returns each rank's Status.
std::vector<Status> RunRanks(int ranks, const std::function<Status(int, Collective&, RankDevice&)>& fn,
                             std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto group = std::make_shared<InProcessGroup>(ranks, timeout);
  std::vector<std::unique_ptr<RankDevice>> devices;
  std::vector<std::unique_ptr<DeviceInProcessCollective>> collectives;
  for (int r = 0; r < ranks; ++r) {
    devices.push_back(std::make_unique<RankDevice>());
    collectives.push_back(std::make_unique<DeviceInProcessCollective>(group, r, 0, devices[r]->stream()));
  }
  std::vector<Status> results(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      cudaSetDevice(0);
      results[r] = fn(r, *collectives[r], *devices[r]);
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

// Rank r's input: magnitudes from 1e-3 to 1e7 with both signs, so the f32 sum of the
// ranks depends on the order of the additions.
std::vector<float> RankInput(int rank, int64_t n) {
  std::mt19937 rng(100 + rank);
  std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-3, 7);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = mantissa(rng) * std::pow(10.0f, static_cast<float>(exponent(rng)));
  return v;
}

// The host's sum over ranks 0, 1, ... from 0.0f (InProcessCollective's), or in reverse.
std::vector<float> HostSum(int ranks, int64_t n, bool reverse = false) {
  std::vector<float> sum(static_cast<size_t>(n), 0.0f);
  for (int k = 0; k < ranks; ++k) {
    const std::vector<float> in = RankInput(reverse ? ranks - 1 - k : k, n);
    for (int64_t i = 0; i < n; ++i) sum[i] += in[i];
  }
  return sum;
}

class DeviceCollectiveTest : public ::testing::TestWithParam<int> {};

TEST_P(DeviceCollectiveTest, AllReduceSumIsTheInOrderSumOnEveryRank) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int ranks = GetParam();
  const std::vector<int64_t> sizes = {1, 1000, 3 * 65536 + 7, 257, 2};  // grows, then reuses the scratch
  std::vector<std::vector<std::vector<float>>> got(static_cast<size_t>(ranks));  // [rank][size][n]
  const auto results = RunRanks(ranks, [&](int r, Collective& c, RankDevice& d) -> Status {
    for (int64_t n : sizes) {
      float* data = d.Upload(RankInput(r, n));
      TANDEM_TRY(c.AllReduceSum(data, n));
      got[r].push_back(d.Download(data, static_cast<size_t>(n)));
    }
    return Status::Ok();
  });
  for (int r = 0; r < ranks; ++r) ASSERT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].message();
  for (size_t s = 0; s < sizes.size(); ++s) {
    const std::vector<float> want = HostSum(ranks, sizes[s]);
    for (int r = 0; r < ranks; ++r) {
      ASSERT_EQ(got[r][s].size(), want.size());
      EXPECT_EQ(std::memcmp(got[r][s].data(), want.data(), want.size() * sizeof(float)), 0)
          << "rank " << r << ", " << sizes[s] << " floats: not the bits of the in-order sum";
    }
  }
  // From 3 ranks on the check can tell the order: the reverse order's sum differs
  // somewhere. (With 2, every order gives the same bits: 0 + a + b == 0 + b + a.)
  const int64_t n = sizes[2];
  const std::vector<float> forward = HostSum(ranks, n), backward = HostSum(ranks, n, true);
  int64_t differ = 0;
  for (int64_t i = 0; i < n; ++i) differ += forward[i] != backward[i];
  if (ranks >= 3) EXPECT_GT(differ, 0) << "the inputs do not tell the summation order apart";
  std::printf("  %d ranks: in-order sums bit-identical on every rank (%lld of %lld elements differ in reverse order)\n",
              ranks, static_cast<long long>(differ), static_cast<long long>(n));
}

TEST_P(DeviceCollectiveTest, BroadcastCopiesTheRootsBytes) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int ranks = GetParam();
  auto bytes_of = [](int rank, size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(rank * 31 + i * 7);
    return v;
  };
  for (size_t n : {size_t{13}, size_t{1} << 20}) {
    for (int root = 0; root < ranks; ++root) {
      std::vector<std::vector<uint8_t>> on_device(ranks), on_host(ranks);
      const auto results = RunRanks(ranks, [&](int r, Collective& c, RankDevice& d) -> Status {
        uint8_t* data = d.Upload(bytes_of(r, n));
        TANDEM_TRY(c.Broadcast(data, n, root));
        on_device[r] = d.Download(data, n);
        on_host[r] = bytes_of(r, n);  // the rank loop's requests and tokens are host memory
        return c.Broadcast(on_host[r].data(), n, root);
      });
      for (int r = 0; r < ranks; ++r) {
        ASSERT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].message();
        EXPECT_EQ(on_device[r], bytes_of(root, n)) << "device memory, rank " << r << ", root " << root << ", " << n;
        EXPECT_EQ(on_host[r], bytes_of(root, n)) << "host memory, rank " << r << ", root " << root << ", " << n;
      }
    }
  }
}

TEST_P(DeviceCollectiveTest, GatherConcatenatesInRankOrderOnTheRoot) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int ranks = GetParam();
  std::vector<int64_t> counts(static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r) counts[r] = r == 1 ? 0 : 1000 + 37 * r;  // uneven, one rank empty
  int64_t total = 0;
  std::vector<float> want;
  for (int r = 0; r < ranks; ++r) {
    const std::vector<float> mine = RankInput(r, counts[r]);
    want.insert(want.end(), mine.begin(), mine.end());
    total += counts[r];
  }
  for (int root : {0, ranks - 1}) {
    std::vector<float> on_device, on_host;
    const auto results = RunRanks(ranks, [&](int r, Collective& c, RankDevice& d) -> Status {
      const std::vector<float> mine = RankInput(r, counts[r]);
      float* send = d.Upload(mine);
      float* recv = r == root ? d.Upload(std::vector<float>(static_cast<size_t>(total), NAN)) : nullptr;
      TANDEM_TRY(c.Gather(send, counts, recv, root));
      if (r == root) on_device = d.Download(recv, static_cast<size_t>(total));
      // The sampler gathers its slice summaries in host memory.
      std::vector<float> host_recv(r == root ? static_cast<size_t>(total) : 0);
      TANDEM_TRY(c.Gather(mine.data(), counts, host_recv.data(), root));
      if (r == root) on_host = host_recv;
      return Status::Ok();
    });
    for (int r = 0; r < ranks; ++r) ASSERT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].message();
    EXPECT_EQ(on_device, want) << "device memory, root " << root;
    EXPECT_EQ(on_host, want) << "host memory, root " << root;
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, DeviceCollectiveTest, ::testing::Values(2, 3, 9),
                         [](const ::testing::TestParamInfo<int>& info) { return fmt::format("{}ranks", info.param); });

// A rank waiting in an all-reduce fails within moments of another rank's Abort (the
// group's timeout is a minute), and so does every later call.
TEST(DeviceCollectiveAbortTest, AbortFailsAWaitingRankPromptly) {
  SKIP_WITHOUT_CUDA_DEVICE();
  double waited_s = 0;
  const auto results = RunRanks(2, [&](int r, Collective& c, RankDevice& d) -> Status {
    float* data = d.Upload(RankInput(r, 1000));
    if (r == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      c.Abort();
      return c.Broadcast(data, 4, 0);  // after the abort: fails at once
    }
    const auto t0 = Clock::now();
    Status st = c.AllReduceSum(data, 1000);
    waited_s = std::chrono::duration<double>(Clock::now() - t0).count();
    return st;
  }, std::chrono::seconds(60));
  ASSERT_FALSE(results[0].ok());
  EXPECT_NE(results[0].message().find("aborted"), std::string::npos) << results[0].message();
  EXPECT_LT(waited_s, 5.0);
  ASSERT_FALSE(results[1].ok());
  EXPECT_NE(results[1].message().find("aborted"), std::string::npos) << results[1].message();
  std::printf("  the waiting rank failed %.0f ms after it started waiting (abort after 200 ms)\n", waited_s * 1e3);
}

// A rank that never comes: the waiting rank fails after the group's timeout, naming it.
TEST(DeviceCollectiveAbortTest, MissingRankTimesOut) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const auto results = RunRanks(2, [&](int r, Collective& c, RankDevice& d) -> Status {
    if (r == 1) return Status::Ok();
    float* data = d.Upload(RankInput(r, 10));
    return c.AllReduceSum(data, 10);
  }, std::chrono::milliseconds(300));
  ASSERT_FALSE(results[0].ok());
  EXPECT_NE(results[0].message().find("waited 300 ms"), std::string::npos) << results[0].message();
}

// Host memory given to AllReduceSum is refused with a clear error, and the group is
// aborted so the rank waiting for the sum fails at once instead of at the timeout.
TEST(DeviceCollectiveAbortTest, HostMemoryAllReduceFailsBothRanks) {
  SKIP_WITHOUT_CUDA_DEVICE();
  double waited_s = 0;
  const auto results = RunRanks(2, [&](int r, Collective& c, RankDevice& d) -> Status {
    if (r == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::vector<float> host(16, 1.0f);
      return c.AllReduceSum(host.data(), 16);
    }
    float* data = d.Upload(RankInput(r, 16));
    const auto t0 = Clock::now();
    Status st = c.AllReduceSum(data, 16);
    waited_s = std::chrono::duration<double>(Clock::now() - t0).count();
    return st;
  }, std::chrono::seconds(60));
  ASSERT_FALSE(results[1].ok());
  EXPECT_NE(results[1].message().find("host memory"), std::string::npos) << results[1].message();
  ASSERT_FALSE(results[0].ok());
  EXPECT_LT(waited_s, 5.0);
}

}  // namespace
}  // namespace tandem
