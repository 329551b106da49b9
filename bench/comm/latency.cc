#include "bench/comm/latency.h"

#include <algorithm>
#include <chrono>
#include <random>

namespace tandem::bench {

Latency Percentiles(std::vector<double>& samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  return {samples[n / 2], samples[std::min(n - 1, n * 99 / 100)]};
}

Latency MaxOverRanks(std::span<const Latency> ranks) {
  Latency worst;
  for (const Latency& r : ranks) {
    worst.p50_us = std::max(worst.p50_us, r.p50_us);
    worst.p99_us = std::max(worst.p99_us, r.p99_us);
  }
  return worst;
}

Expected<Latency> TimeHostMessage(Collective& group, const CommMessage& message, const TimingOptions& timing) {
  using Clock = std::chrono::steady_clock;
  const int64_t floats = message.op == CommOp::kBroadcast ? (message.count + 3) / 4 : message.count;
  std::vector<float> source(static_cast<size_t>(floats));
  std::mt19937 rng(static_cast<uint32_t>(1 + group.rank()));
  std::uniform_real_distribution<float> dist(0.5f, 2.0f);
  for (float& x : source) x = dist(rng);
  std::vector<float> data(source);
  std::vector<float> recv(static_cast<size_t>(floats * group.size()));
  const std::vector<int64_t> counts(static_cast<size_t>(group.size()), message.count);
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(timing.iters));
  for (int i = 0; i < timing.warmup + timing.iters; ++i) {
    if (i % 32 == 0) std::copy(source.begin(), source.end(), data.begin());
    float line_up = 1.0f;
    TANDEM_TRY(group.AllReduceSum(&line_up, 1).WithContext("lining the ranks up"));
    const Clock::time_point start = Clock::now();
    Status st;
    switch (message.op) {
      case CommOp::kAllReduce: st = group.AllReduceSum(data.data(), message.count); break;
      case CommOp::kGather: st = group.Gather(data.data(), counts, recv.data(), 0); break;
      case CommOp::kBroadcast: st = group.Broadcast(data.data(), static_cast<uint64_t>(message.count), 0); break;
    }
    const Clock::time_point end = Clock::now();
    if (!st.ok()) return st.WithContext(message.what);
    if (i >= timing.warmup) samples.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  return Percentiles(samples);
}

}  // namespace tandem::bench
