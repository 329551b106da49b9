// NCCL collective (src/net/nccl_collective.h) on the GPU: a one-rank communicator's
// all-reduce, broadcast and gather (semantics, misuse), the same calls captured into a
// CUDA graph and replayed, and the watchdog's deadline abort. Where the machine has 2+
// GPUs, a group of one rank per GPU (threads of this process) checks sums, bit-identical
// results and uneven gathers. Skips without a CUDA device (CI compiles it).
#include "net/nccl_collective.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cuda/cuda_check.h"

#include "net/nccl_watchdog.h"

namespace tandem {
namespace {

int DeviceCount() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

#define SKIP_WITHOUT_CUDA_DEVICE() \
  if (DeviceCount() == 0) GTEST_SKIP() << "no CUDA device (NCCL test skipped)"

#define ASSERT_CUDA(expr) ASSERT_EQ((expr), cudaSuccess) << #expr << ": " << cudaGetErrorString(cudaGetLastError())
#define ASSERT_OK(expr)                    \
  do {                                     \
    const Status _st = (expr);             \
    ASSERT_TRUE(_st.ok()) << _st.message(); \
  } while (0)

// [n] floats of random, non-zero values (zeros would hide unwritten outputs).
std::vector<float> RandomFloats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.5f, 2.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = (rng() & 1) ? dist(rng) : -dist(rng);
  return v;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class DeviceFloats {
 public:
  explicit DeviceFloats(int64_t n) : n_(n) {
    if (cudaMalloc(&ptr_, static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float)) != cudaSuccess) ptr_ = nullptr;
  }
  ~DeviceFloats() { cudaFree(ptr_); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  float* get() const { return ptr_; }
  cudaError_t Upload(const std::vector<float>& v) const {
    return cudaMemcpy(ptr_, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice);
  }
  std::vector<float> Download() const {
    std::vector<float> v(static_cast<size_t>(n_));
    if (cudaMemcpy(v.data(), ptr_, v.size() * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess) v.clear();
    return v;
  }

 private:
  float* ptr_ = nullptr;
  int64_t n_;
};

// A one-rank communicator on device 0 and a stream of its own.
class NcclOneRankTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_CUDA_DEVICE();
    ASSERT_CUDA(cudaSetDevice(0));
    ASSERT_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    int version = 0;
    ncclGetVersion(&version);
    std::printf("NCCL %d (built against %d)\n", version, NCCL_VERSION_CODE);
    auto id = MakeNcclUniqueId();
    ASSERT_TRUE(id.ok()) << id.status().message();
    auto group = NcclCollective::Connect(*id, 0, 1, stream_, NcclOptions{std::chrono::seconds(30)});
    ASSERT_TRUE(group.ok()) << group.status().message();
    group_ = std::move(*group);
  }
  void TearDown() override {
    group_.reset();
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  Status Sync() {
    const cudaError_t err = cudaStreamSynchronize(stream_);
    return err == cudaSuccess ? Status::Ok() : Status::Error("sync: {}", cudaGetErrorString(err));
  }

  cudaStream_t stream_ = nullptr;
  std::unique_ptr<NcclCollective> group_;
};

TEST(NcclUniqueIdTest, BytesOfTheWrongLengthAreRefused) {
  EXPECT_FALSE(NcclUniqueIdFromBytes(std::string(127, 'x')).ok());
  auto id = NcclUniqueIdFromBytes(std::string(128, 'x'));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->bytes[127], 'x');
}

TEST_F(NcclOneRankTest, OneRankCollectivesKeepTheirData) {
  EXPECT_EQ(group_->rank(), 0);
  EXPECT_EQ(group_->size(), 1);
  EXPECT_EQ(getenv("NCCL_NVLS_ENABLE") != nullptr ? std::string(getenv("NCCL_NVLS_ENABLE")) : "", "0");
  for (int64_t n : {3072, 2048, 2, 1}) {
    const std::vector<float> input = RandomFloats(n, static_cast<uint32_t>(n));
    DeviceFloats data(n);
    ASSERT_CUDA(data.Upload(input));
    ASSERT_OK(group_->AllReduceSum(data.get(), n));
    ASSERT_OK(Sync());
    EXPECT_TRUE(SameBits(data.Download(), input)) << "all-reduce of " << n;
  }
  const std::vector<float> word = RandomFloats(3, 7);  // 12 bytes, like the token broadcast
  DeviceFloats word_dev(3);
  ASSERT_CUDA(word_dev.Upload(word));
  ASSERT_OK(group_->Broadcast(word_dev.get(), 12, 0));
  ASSERT_OK(Sync());
  EXPECT_TRUE(SameBits(word_dev.Download(), word));

  const std::vector<float> summary = RandomFloats(6, 11);
  DeviceFloats send(6), recv(6);
  ASSERT_CUDA(send.Upload(summary));
  ASSERT_CUDA(recv.Upload(std::vector<float>(6, -999.0f)));  // poison
  const int64_t counts[] = {6};
  ASSERT_OK(group_->Gather(send.get(), counts, recv.get(), 0));
  ASSERT_OK(Sync());
  EXPECT_TRUE(SameBits(recv.Download(), summary));
  ASSERT_OK(group_->Gather(recv.get(), counts, recv.get(), 0));  // in place
  ASSERT_OK(Sync());
  EXPECT_TRUE(SameBits(recv.Download(), summary));
  // zero-sized calls are no-ops
  ASSERT_OK(group_->AllReduceSum(nullptr, 0));
  ASSERT_OK(group_->Broadcast(word_dev.get(), 0, 0));
}

TEST_F(NcclOneRankTest, MisuseFailsWithAnErrorAndLeavesTheGroupUsable) {
  DeviceFloats buf(8);
  ASSERT_CUDA(buf.Upload(RandomFloats(8, 3)));
  const int64_t two_counts[] = {4, 4};
  Status st = group_->Gather(buf.get(), two_counts, buf.get(), 0);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("2 counts for a group of 1"), std::string::npos) << st.message();
  const int64_t negative[] = {-1};
  EXPECT_FALSE(group_->Gather(buf.get(), negative, buf.get(), 0).ok());
  const int64_t one[] = {8};
  EXPECT_FALSE(group_->Gather(buf.get(), one, buf.get(), 1).ok());
  st = group_->Broadcast(buf.get(), 4, 1);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("root 1 of 1"), std::string::npos) << st.message();
  EXPECT_FALSE(group_->AllReduceSum(buf.get(), -1).ok());
  // none of these reached NCCL: the group still works
  ASSERT_OK(group_->broken());
  ASSERT_OK(group_->AllReduceSum(buf.get(), 8));
  ASSERT_OK(Sync());
  ASSERT_OK(group_->CheckHealth());
}

// The decode step's collectives captured into one CUDA graph (after a warm-up, as the
// engine does: NCCL sets up its connections on first use) and replayed with new inputs.
TEST_F(NcclOneRankTest, CollectivesReplayInACudaGraph) {
  constexpr int64_t kEmbd = 3072, kSummary = 6;
  DeviceFloats hidden(kEmbd), qk(2), word(3), send(kSummary), recv(kSummary);
  const int64_t counts[] = {kSummary};
  // The q/k sums' all-reduce forks onto the side stream while the main stream copies.
  DeviceFloats other(kEmbd);
  auto step = [&]() -> Status {
    TANDEM_TRY(group_->AllReduceSum(hidden.get(), kEmbd));
    TANDEM_TRY(group_->StartAllReduceSum(qk.get(), 2));
    TANDEM_CUDA_TRY(cudaMemcpyAsync(other.get(), hidden.get(), kEmbd * sizeof(float), cudaMemcpyDeviceToDevice,
                                    stream_));
    TANDEM_TRY(group_->FinishAllReduceSum());
    TANDEM_TRY(group_->AllReduceSum(hidden.get(), kEmbd));
    TANDEM_TRY(group_->Gather(send.get(), counts, recv.get(), 0));
    return group_->Broadcast(word.get(), 12, 0);
  };
  ASSERT_CUDA(hidden.Upload(RandomFloats(kEmbd, 1)));
  ASSERT_CUDA(qk.Upload(RandomFloats(2, 2)));
  ASSERT_CUDA(word.Upload(RandomFloats(3, 3)));
  ASSERT_CUDA(send.Upload(RandomFloats(kSummary, 4)));
  ASSERT_OK(step());  // warm-up
  ASSERT_OK(Sync());

  cudaGraph_t graph = nullptr;
  ASSERT_CUDA(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal));
  const Status captured = step();
  ASSERT_CUDA(cudaStreamEndCapture(stream_, &graph));
  ASSERT_OK(captured);
  cudaGraphExec_t exec = nullptr;
  ASSERT_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  size_t nodes = 0;
  ASSERT_CUDA(cudaGraphGetNodes(graph, nullptr, &nodes));
  std::printf("captured decode-step collectives: %zu graph nodes\n", nodes);
  EXPECT_GT(nodes, 0u);

  for (uint32_t replay = 0; replay < 5; ++replay) {
    const std::vector<float> h = RandomFloats(kEmbd, 100 + replay), q = RandomFloats(2, 200 + replay),
                             w = RandomFloats(3, 300 + replay), s = RandomFloats(kSummary, 400 + replay);
    ASSERT_CUDA(hidden.Upload(h));
    ASSERT_CUDA(qk.Upload(q));
    ASSERT_CUDA(word.Upload(w));
    ASSERT_CUDA(send.Upload(s));
    ASSERT_CUDA(recv.Upload(std::vector<float>(kSummary, -999.0f)));
    ASSERT_CUDA(cudaGraphLaunch(exec, stream_));
    ASSERT_OK(Sync());
    EXPECT_TRUE(SameBits(hidden.Download(), h)) << "replay " << replay;
    EXPECT_TRUE(SameBits(other.Download(), h)) << "replay " << replay;
    EXPECT_TRUE(SameBits(qk.Download(), q)) << "replay " << replay;
    EXPECT_TRUE(SameBits(word.Download(), w)) << "replay " << replay;
    EXPECT_TRUE(SameBits(recv.Download(), s)) << "replay " << replay << ": the gather's copy did not replay";
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  ASSERT_OK(group_->CheckHealth());
}

// A step that never finishes (a host function holds the stream, as a dead peer would
// hold NCCL's kernels): the armed watchdog aborts the communicator, and every later
// call fails with its reason instead of hanging.
TEST_F(NcclOneRankTest, WatchdogAbortsAStepPastItsDeadline) {
  NcclWatchdog watchdog(*group_, std::chrono::milliseconds(1));
  watchdog.Arm(std::chrono::milliseconds(2000));
  DeviceFloats buf(16);
  ASSERT_CUDA(buf.Upload(RandomFloats(16, 5)));
  ASSERT_OK(group_->AllReduceSum(buf.get(), 16));
  ASSERT_OK(Sync());
  watchdog.Disarm();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_OK(watchdog.failure());  // a healthy step inside its budget

  static std::atomic<bool> release{false};
  release = false;
  ASSERT_CUDA(cudaLaunchHostFunc(
      stream_, [](void*) {
        while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      },
      nullptr));
  const auto armed = std::chrono::steady_clock::now();
  watchdog.Arm(std::chrono::milliseconds(50));
  std::thread releaser([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    release = true;
  });
  while (watchdog.failure().ok() && std::chrono::steady_clock::now() - armed < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  releaser.join();
  ASSERT_OK(Sync());
  const Status failure = watchdog.failure();
  ASSERT_FALSE(failure.ok()) << "the watchdog never fired";
  EXPECT_NE(failure.message().find("did not finish within 50 ms"), std::string::npos) << failure.message();
  const Status after = group_->AllReduceSum(buf.get(), 16);
  ASSERT_FALSE(after.ok());
  EXPECT_TRUE(after.unavailable()) << after.message();
  EXPECT_NE(after.message().find("broken"), std::string::npos) << after.message();
}

// One rank per GPU (threads of this process): needs 2+ GPUs; at most 3 ranks, tandem's sizes.
TEST(NcclMultiGpuTest, RanksAgreeBitForBit) {
  const int ranks = std::min(DeviceCount(), 3);
  if (ranks < 2) GTEST_SKIP() << "needs 2+ GPUs (found " << DeviceCount() << "): NCCL refuses two ranks on one GPU";
  auto id = MakeNcclUniqueId();
  ASSERT_TRUE(id.ok()) << id.status().message();
  constexpr int64_t kEmbd = 3072;
  std::vector<std::vector<float>> inputs, sums(ranks), split_sums(ranks), gathered(ranks), words(ranks);
  for (int r = 0; r < ranks; ++r) inputs.push_back(RandomFloats(kEmbd, 1000 + r));
  std::vector<int64_t> counts;
  for (int r = 0; r < ranks; ++r) counts.push_back(5 + r);  // uneven, like vocabulary slices
  std::vector<std::string> errors(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      auto fail = [&](const std::string& what) { errors[r] = what; };
      cudaSetDevice(r);
      cudaStream_t stream = nullptr;
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
      auto group = NcclCollective::Connect(*id, r, ranks, stream, NcclOptions{std::chrono::seconds(60)});
      if (!group.ok()) return fail(group.status().message());
      DeviceFloats data(kEmbd), split(kEmbd), send(counts[r]), recv(5 * ranks + ranks * (ranks - 1) / 2), word(3);
      data.Upload(inputs[r]);
      split.Upload(inputs[r]);
      send.Upload(RandomFloats(counts[r], 2000 + r));
      word.Upload(r == 0 ? std::vector<float>{1.0f, 2.0f, 3.0f} : RandomFloats(3, 3000 + r));
      Status st = (*group)->AllReduceSum(data.get(), kEmbd);
      if (st.ok()) st = (*group)->StartAllReduceSum(split.get(), kEmbd);  // on the side stream
      if (st.ok()) st = (*group)->FinishAllReduceSum();
      if (st.ok()) st = (*group)->Gather(send.get(), counts, recv.get(), 0);
      if (st.ok()) st = (*group)->Broadcast(word.get(), 12, 0);
      if (st.ok() && cudaStreamSynchronize(stream) != cudaSuccess) st = Status::Error("sync failed");
      if (!st.ok()) return fail(st.message());
      sums[r] = data.Download();
      split_sums[r] = split.Download();
      gathered[r] = recv.Download();
      words[r] = word.Download();
      group->reset();
      cudaStreamDestroy(stream);
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < ranks; ++r) ASSERT_TRUE(errors[r].empty()) << "rank " << r << ": " << errors[r];
  for (int64_t i = 0; i < kEmbd; ++i) {
    double want = 0;
    for (int r = 0; r < ranks; ++r) want += inputs[r][i];
    ASSERT_NEAR(sums[0][i], want, 1e-5 * ranks * 2) << i;
  }
  for (int r = 1; r < ranks; ++r) {
    EXPECT_TRUE(SameBits(sums[r], sums[0])) << "rank " << r << "'s sum differs from rank 0's bits";
    EXPECT_TRUE(SameBits(split_sums[r], sums[0])) << "rank " << r << ": the side stream's sum differs";
    EXPECT_TRUE(SameBits(words[r], words[0])) << "rank " << r;
  }
  std::vector<float> want_gather;
  for (int r = 0; r < ranks; ++r) {
    const std::vector<float> part = RandomFloats(counts[r], 2000 + r);
    want_gather.insert(want_gather.end(), part.begin(), part.end());
  }
  EXPECT_TRUE(SameBits(gathered[0], want_gather));
}

}  // namespace
}  // namespace tandem
