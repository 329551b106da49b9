#include "ucx_process_group.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <sstream>

#include "common/pipe_messages.h"

namespace tandem::testing {
namespace {

using Clock = PipeClock;

bool WriteBlob(int fd, const std::vector<uint8_t>& blob) { return WriteMessage(fd, blob.data(), blob.size()); }

bool ReadBlob(int fd, std::vector<uint8_t>& blob, Clock::time_point deadline) {
  std::string text;
  if (!ReadMessage(fd, text, deadline)) return false;
  blob.assign(text.begin(), text.end());
  return true;
}

[[noreturn]] void SendReportAndExit(int fd, const RankReport& report) {
  bool failed = false;
  std::string text;
  for (const std::string& line : report) {
    failed |= line.starts_with("FAIL");
    text += line + "\n";
  }
  WriteAll(fd, text.data(), text.size());
  close(fd);
  _exit(failed ? 1 : 0);
}

RankOutcome Collect(pid_t pid, int fd, Clock::time_point deadline) {
  RankOutcome outcome;
  std::string text(1 << 20, '\0');
  text.resize(ReadUntil(fd, text.data(), text.size(), deadline));
  close(fd);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) outcome.lines.push_back(line);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      outcome.lines.push_back("FAIL: killed: still running at the test's time limit (a hang)");
      waitpid(pid, &status, 0);
      return outcome;
    }
    usleep(1000);
  }
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  return outcome;
}

[[noreturn]] void RankMain(int rank, int ranks, const UcxOptions& options, const RankBody& body, int up, int down) {
  RankReport report;
  auto worker = UcxWorker::Create(options);
  if (!worker.ok()) report.push_back("FAIL: " + worker.status().message());
  if (!WriteBlob(up, worker.ok() ? (*worker)->address() : std::vector<uint8_t>{})) _exit(3);
  std::vector<std::vector<uint8_t>> addresses(static_cast<size_t>(ranks));
  for (auto& blob : addresses) {
    if (!ReadBlob(down, blob, Clock::time_point::max())) _exit(3);
  }
  if (worker.ok()) {
    auto group = UcxCollective::Connect(std::move(*worker), rank, addresses);
    if (group.ok()) {
      body(**group, report);
    } else {
      report.push_back("FAIL: " + group.status().message());
    }
  }
  SendReportAndExit(up, report);
}

}  // namespace

std::vector<RankOutcome> RunUcxGroup(int ranks, const UcxOptions& options, const RankBody& body,
                                     std::chrono::seconds limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  signal(SIGPIPE, SIG_IGN);  // a rank that died early must not take the test with it
  std::vector<pid_t> pids;
  std::vector<int> ups, downs;  // parent's ends: reads from each rank, writes to each rank
  for (int rank = 0; rank < ranks; ++rank) {
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0) return {};
    const pid_t pid = fork();
    if (pid == 0) {
      close(up[0]);
      close(down[1]);
      for (int fd : ups) close(fd);
      for (int fd : downs) close(fd);
      RankMain(rank, ranks, options, body, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    pids.push_back(pid);
    ups.push_back(up[0]);
    downs.push_back(down[1]);
  }
  std::vector<std::vector<uint8_t>> addresses(static_cast<size_t>(ranks));
  for (int rank = 0; rank < ranks; ++rank) ReadBlob(ups[rank], addresses[rank], deadline);
  for (int fd : downs) {
    for (const auto& blob : addresses) WriteBlob(fd, blob);
    close(fd);
  }
  std::vector<RankOutcome> outcomes;
  for (int rank = 0; rank < ranks; ++rank) outcomes.push_back(Collect(pids[rank], ups[rank], deadline));
  return outcomes;
}

RankOutcome RunInChild(const std::function<void(RankReport& report)>& body, std::chrono::seconds limit) {
  int up[2];
  if (pipe(up) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    close(up[0]);
    RankReport report;
    body(report);
    SendReportAndExit(up[1], report);
  }
  close(up[1]);
  return Collect(pid, up[0], Clock::now() + limit);
}

}  // namespace tandem::testing
