#include "bench/comm/host_runs.h"

#include <fmt/format.h>

#include <sstream>
#include <thread>

#include "bench/comm/forked_ucx_group.h"
#include "net/in_process_collective.h"

namespace tandem::bench {

double BackendResult::PerTokenMicros(const std::vector<CommMessage>& messages) const {
  double total = 0;
  for (size_t i = 0; i < per_message.size() && i < messages.size(); ++i) {
    total += static_cast<double>(messages[i].per_token) * per_message[i].p50_us;
  }
  return total;
}

BackendResult BenchInProcess(int ranks, const std::vector<CommMessage>& messages, const TimingOptions& timing) {
  BackendResult result{"in-process", ranks, {}, {}};
  auto group = std::make_shared<InProcessGroup>(ranks, std::chrono::seconds(30));
  std::vector<std::vector<Latency>> latencies(static_cast<size_t>(ranks));
  std::vector<Status> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      InProcessCollective rank(group, r);
      for (const CommMessage& message : messages) {
        Expected<Latency> latency = TimeHostMessage(rank, message, timing);
        if (!latency.ok()) {
          errors[r] = latency.status();
          group->Abort();  // the other ranks must not wait for this one
          return;
        }
        latencies[r].push_back(*latency);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& st : errors) {
    if (!st.ok()) {
      result.skipped = "failed: " + st.message();
      return result;
    }
  }
  for (size_t m = 0; m < messages.size(); ++m) {
    std::vector<Latency> ranks_m;
    for (const auto& rank : latencies) ranks_m.push_back(rank[m]);
    result.per_message.push_back(MaxOverRanks(ranks_m));
  }
  return result;
}

BackendResult BenchUcx(const std::string& name, const std::string& transports, int ranks,
                       const std::vector<CommMessage>& messages, const TimingOptions& timing) {
  BackendResult result{name, ranks, {}, {}};
  UcxOptions options;
  options.transports = transports;
  options.timeout = std::chrono::seconds(10);
  options.report_peer_failure = !transports.starts_with("sm");  // UCX 1.13's sm cannot
  // Each rank's text: "p50 p99" per message, space-separated, in message order.
  const auto body = [&](UcxCollective& group) -> Expected<std::string> {
    std::ostringstream text;
    text.precision(17);
    for (const CommMessage& message : messages) {
      TANDEM_ASSIGN_OR_RETURN(Latency latency, TimeHostMessage(group, message, timing));
      text << latency.p50_us << ' ' << latency.p99_us << ' ';
    }
    return text.str();
  };
  const auto limit = std::chrono::seconds(60 + 2 * timing.iters / 100);
  Expected<std::vector<std::string>> texts = RunForkedUcxGroup(ranks, options, body, limit);
  if (!texts.ok()) {
    result.skipped = "failed: " + texts.status().message();
    return result;
  }
  std::vector<std::vector<Latency>> latencies(messages.size());  // [message][rank]
  for (int r = 0; r < ranks; ++r) {
    std::istringstream text((*texts)[r]);
    for (size_t m = 0; m < messages.size(); ++m) {
      Latency latency;
      if (!(text >> latency.p50_us >> latency.p99_us)) {
        result.skipped = fmt::format("failed: rank {} reported no latency for {}", r, messages[m].what);
        return result;
      }
      latencies[m].push_back(latency);
    }
  }
  for (const auto& ranks_m : latencies) result.per_message.push_back(MaxOverRanks(ranks_m));
  return result;
}

}  // namespace tandem::bench
