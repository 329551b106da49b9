// UcxCollective across forked processes on this machine, over TCP loopback and shared
// memory: bit-identical in-order sums, long mixed sequences (tag mix-ups), a peer that
// dies, bad addresses, and the latency of the decode step's all-reduce.
#include "net/ucx_collective.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <random>

#include "ucx_process_group.h"

namespace tandem {
namespace {

using std::chrono::milliseconds;
using testing::RankOutcome;
using testing::RankReport;
using Clock = std::chrono::steady_clock;

struct Transport {
  const char* name;
  const char* tls;  // UCX_TLS
  bool report_peer_failure;
};
// UCX 1.13's shared-memory transports cannot report a dead peer: there the timeout does.
constexpr Transport kTransports[] = {{"tcp", "tcp,self", true}, {"sm", "sm,self", false}};

UcxOptions Options(const Transport& transport, milliseconds timeout) {
  UcxOptions options;
  options.transports = transport.tls;
  options.report_peer_failure = transport.report_peer_failure;
  options.timeout = timeout;
  return options;
}

// Fails the test for every FAIL line and every rank that did not exit 0; prints the rest.
void ExpectRanksOk(const std::vector<RankOutcome>& outcomes, int ranks) {
  ASSERT_EQ(static_cast<int>(outcomes.size()), ranks);
  for (int r = 0; r < ranks; ++r) {
    for (const std::string& line : outcomes[r].lines) {
      if (line.starts_with("FAIL")) {
        ADD_FAILURE() << "rank " << r << ": " << line;
      } else {
        std::cout << "[rank " << r << "] " << line << "\n";
      }
    }
    EXPECT_EQ(outcomes[r].exit_code, 0) << "rank " << r;
  }
}

// Rank r's all-reduce input of trial `seed`: [n] f32 in [-1, 1).
std::vector<float> Input(int rank, uint64_t seed, int64_t n) {
  std::mt19937_64 rng(seed * 1000 + static_cast<uint64_t>(rank));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// What every rank must hold after all-reducing Input: the sum over ranks 0, 1, ... from 0.0f.
std::vector<float> InOrderSum(int ranks, uint64_t seed, int64_t n) {
  std::vector<float> sum(static_cast<size_t>(n), 0.0f);
  for (int r = 0; r < ranks; ++r) {
    const std::vector<float> in = Input(r, seed, n);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += in[i];
  }
  return sum;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string Fail(const std::string& what, const Status& status) { return "FAIL: " + what + ": " + status.message(); }

class UcxGroupTest : public ::testing::TestWithParam<std::tuple<int, Transport>> {
 protected:
  int ranks() const { return std::get<0>(GetParam()); }
  const Transport& transport() const { return std::get<1>(GetParam()); }
};

TEST_P(UcxGroupTest, AllReduceIsTheInOrderSumBitForBit) {
  const auto body = [](UcxCollective& group, RankReport& report) {
    for (int64_t n : {1, 2, 3072, 6144, 200000}) {
      for (uint64_t seed = 1; seed <= 2; ++seed) {
        std::vector<float> data = Input(group.rank(), seed * 7 + static_cast<uint64_t>(n), n);
        const Status st = group.AllReduceSum(data.data(), n);
        if (!st.ok()) return report.push_back(Fail(fmt::format("allreduce of {}", n), st));
        if (!SameBits(data, InOrderSum(group.size(), seed * 7 + static_cast<uint64_t>(n), n))) {
          return report.push_back(fmt::format("FAIL: allreduce of {} floats differs from the in-order sum", n));
        }
      }
    }
  };
  ExpectRanksOk(testing::RunUcxGroup(ranks(), Options(transport(), milliseconds(5000)), body), ranks());
}

// 1000 rounds of all-reduce, broadcast and gather with sizes, roots and counts that change
// every call: a message taken for the wrong collective shows as wrong sizes or values.
TEST_P(UcxGroupTest, ThousandMixedCollectivesKeepTheirOrder) {
  const auto body = [](UcxCollective& group, RankReport& report) {
    const int rank = group.rank();
    const int size = group.size();
    for (int it = 0; it < 1000; ++it) {
      const int64_t n = it % 100 == 0 ? 3072 : 1 + (it * 7) % 40;
      std::vector<float> data = Input(rank, static_cast<uint64_t>(it), n);
      Status st = group.AllReduceSum(data.data(), n);
      if (!st.ok()) return report.push_back(Fail(fmt::format("round {} allreduce", it), st));
      if (!SameBits(data, InOrderSum(size, static_cast<uint64_t>(it), n))) {
        return report.push_back(fmt::format("FAIL: round {}: allreduce of {} floats is wrong", it, n));
      }

      const int broadcast_root = it % size;
      const size_t bytes = 1 + static_cast<size_t>(it * 13) % 97;
      std::vector<uint8_t> message(bytes, 0xEE);
      const auto pattern = [&](size_t i) { return static_cast<uint8_t>(it + 3 * i + broadcast_root); };
      if (rank == broadcast_root) {
        for (size_t i = 0; i < bytes; ++i) message[i] = pattern(i);
      }
      st = group.Broadcast(message.data(), bytes, broadcast_root);
      if (!st.ok()) return report.push_back(Fail(fmt::format("round {} broadcast", it), st));
      for (size_t i = 0; i < bytes; ++i) {
        if (message[i] != pattern(i))
          return report.push_back(fmt::format("FAIL: round {}: broadcast byte {} is wrong", it, i));
      }

      const int gather_root = (it + 1) % size;
      std::vector<int64_t> counts(static_cast<size_t>(size));
      for (int r = 0; r < size; ++r) counts[r] = (it + 2 * r) % 4;  // uneven, some empty
      const auto value = [&](int r, int64_t i) {
        return static_cast<float>(r * 1000 + it) + 0.5f * static_cast<float>(i);
      };
      std::vector<float> send(static_cast<size_t>(counts[rank]));
      for (int64_t i = 0; i < counts[rank]; ++i) send[i] = value(rank, i);
      int64_t total = 0;
      for (int64_t c : counts) total += c;
      std::vector<float> recv(static_cast<size_t>(total), -1.0f);
      st = group.Gather(send.data(), counts, recv.data(), gather_root);
      if (!st.ok()) return report.push_back(Fail(fmt::format("round {} gather", it), st));
      if (rank != gather_root) continue;
      int64_t at = 0;
      for (int r = 0; r < size; ++r) {
        for (int64_t i = 0; i < counts[r]; ++i, ++at) {
          if (recv[at] != value(r, i))
            return report.push_back(fmt::format("FAIL: round {}: gathered [{}] is wrong", it, at));
        }
      }
    }
  };
  ExpectRanksOk(testing::RunUcxGroup(ranks(), Options(transport(), milliseconds(5000)), body), ranks());
}

// The last rank leaves without a word, like a crashed process; the others' next
// collective fails within the timeout naming it, and every later one fails at once.
TEST_P(UcxGroupTest, PeerThatExitsFailsTheOthersWithinTheTimeout) {
  const milliseconds timeout(2000);
  const auto body = [timeout](UcxCollective& group, RankReport& report) {
    const int leaver = group.size() - 1;
    std::vector<float> data(16, 1.0f);
    for (int k = 0; k < 5; ++k) {
      const Status st = group.AllReduceSum(data.data(), 8);
      if (!st.ok()) return report.push_back(Fail("allreduce before the exit", st));
    }
    if (group.rank() == leaver) _exit(0);
    const Clock::time_point start = Clock::now();
    const Status lost = group.AllReduceSum(data.data(), 16);
    const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    if (lost.ok()) return report.push_back(fmt::format("FAIL: allreduce succeeded after rank {} exited", leaver));
    if (lost.message().find(fmt::format("rank {}", leaver)) == std::string::npos) {
      report.push_back("FAIL: the error does not name the rank that left: " + lost.message());
    }
    if (waited > timeout + milliseconds(1000))
      report.push_back(fmt::format("FAIL: the failure took {} ms", waited.count()));
    report.push_back(fmt::format("failed after {} ms: {}", waited.count(), lost.message()));

    const Clock::time_point again = Clock::now();
    const Status later = group.Broadcast(data.data(), 4, 0);
    if (later.ok() || later.message().find("failed earlier") == std::string::npos) {
      report.push_back("FAIL: a collective after the failure did not report the broken group: " + later.message());
    }
    if (Clock::now() - again > milliseconds(100)) report.push_back("FAIL: the broken group waited again");
  };
  ExpectRanksOk(testing::RunUcxGroup(ranks(), Options(transport(), timeout), body), ranks());
}

std::string ParamName(const ::testing::TestParamInfo<std::tuple<int, Transport>>& info) {
  return fmt::format("{}_{}ranks", std::get<1>(info.param).name, std::get<0>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Ranks, UcxGroupTest,
                         ::testing::Combine(::testing::Values(2, 3), ::testing::ValuesIn(kTransports)), ParamName);

class UcxTransportTest : public ::testing::TestWithParam<Transport> {};

TEST_P(UcxTransportTest, ConnectFailsCleanlyOnBadAddresses) {
  const UcxOptions options = Options(GetParam(), milliseconds(1000));
  const auto body = [&options](RankReport& report) {
    const auto expect_failure = [&report](const char* what, const Expected<std::unique_ptr<UcxCollective>>& group,
                                          const std::string& must_say) {
      if (group.ok()) return report.push_back(fmt::format("FAIL: {}: Connect succeeded", what));
      if (group.status().message().find(must_say) == std::string::npos) {
        report.push_back(
            fmt::format("FAIL: {}: the error does not say '{}': {}", what, must_say, group.status().message()));
      }
      report.push_back(fmt::format("{}: {}", what, group.status().message()));
    };
    auto fresh = [&options]() { return std::move(UcxWorker::Create(options).value()); };

    auto worker = fresh();
    const std::vector<std::vector<uint8_t>> foreign = {worker->address(), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};
    expect_failure("foreign blob", UcxCollective::Connect(std::move(worker), 0, foreign),
                   "not a tandem UCX worker address");

    worker = fresh();
    std::vector<uint8_t> gone = fresh()->address();  // that worker is destroyed at once
    const std::vector<std::vector<uint8_t>> dead = {worker->address(), gone};
    const Clock::time_point start = Clock::now();
    expect_failure("destroyed peer", UcxCollective::Connect(std::move(worker), 0, dead), "rank 1");
    if (Clock::now() - start > options.timeout + milliseconds(1000))
      report.push_back("FAIL: destroyed peer: took too long");

    worker = fresh();
    const std::vector<std::vector<uint8_t>> swapped = {worker->address(), gone};
    expect_failure("addresses out of order", UcxCollective::Connect(std::move(worker), 1, swapped), "rank order");
  };
  const RankOutcome outcome = testing::RunInChild(body);
  ExpectRanksOk({outcome}, 1);
}

// Latency of the decode step's collectives between 2 ranks: all-reduce of n_embd (3072)
// floats and of the q/k-norm's 2 floats. Printed, not asserted (the machine is shared).
TEST_P(UcxTransportTest, AllReduceLatency) {
  const auto body = [name = GetParam().name](UcxCollective& group, RankReport& report) {
    for (int64_t n : {3072, 2}) {
      std::vector<float> input(static_cast<size_t>(n), 1.0f + static_cast<float>(group.rank()));
      std::vector<float> data(input);
      std::vector<double> micros;
      for (int it = 0; it < 3300; ++it) {
        std::copy(input.begin(), input.end(), data.begin());
        const Clock::time_point start = Clock::now();
        const Status st = group.AllReduceSum(data.data(), n);
        const Clock::time_point end = Clock::now();
        if (!st.ok()) return report.push_back(Fail("allreduce", st));
        if (it >= 300) micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
      }
      std::sort(micros.begin(), micros.end());
      if (group.rank() == 0) {
        report.push_back(fmt::format("{}: allreduce {} f32, {} ranks: p50 {:.1f} us, p99 {:.1f} us", name, n,
                                     group.size(), micros[micros.size() / 2], micros[micros.size() * 99 / 100]));
      }
    }
  };
  ExpectRanksOk(testing::RunUcxGroup(2, Options(GetParam(), milliseconds(5000)), body), 2);
}

INSTANTIATE_TEST_SUITE_P(Transports, UcxTransportTest, ::testing::ValuesIn(kTransports),
                         [](const ::testing::TestParamInfo<Transport>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tandem
