#include "bench/comm/forked_ucx_group.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "common/pipe_messages.h"

namespace tandem::bench {
namespace {

using Clock = PipeClock;

// The child: worker, address up, every address down, connect, body, "+text" or "-error" up.
[[noreturn]] void RankMain(int rank, int ranks, const UcxOptions& options, const UcxRankBody& body, int up, int down) {
  auto finish = [&](const std::string& result) {
    WriteMessage(up, result.data(), result.size());
    _exit(result.starts_with("+") ? 0 : 1);
  };
  auto worker = UcxWorker::Create(options);
  const std::vector<uint8_t> none;
  const std::vector<uint8_t>& address = worker.ok() ? (*worker)->address() : none;
  if (!WriteMessage(up, address.data(), address.size())) _exit(3);
  std::vector<std::vector<uint8_t>> addresses(static_cast<size_t>(ranks));
  for (auto& blob : addresses) {
    std::string text;
    if (!ReadMessage(down, text, Clock::time_point::max())) _exit(3);
    blob.assign(text.begin(), text.end());
  }
  if (!worker.ok()) finish("-" + worker.status().message());
  auto group = UcxCollective::Connect(std::move(*worker), rank, addresses);
  if (!group.ok()) finish("-" + group.status().message());
  Expected<std::string> text = body(**group);
  finish(text.ok() ? "+" + *text : "-" + text.status().message());
}

}  // namespace

Expected<std::vector<std::string>> RunForkedUcxGroup(int ranks, const UcxOptions& options, const UcxRankBody& body,
                                                     std::chrono::seconds limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  signal(SIGPIPE, SIG_IGN);  // a rank that died early must not take this process with it
  std::vector<pid_t> pids;
  std::vector<int> ups, downs;  // this process's ends: from each rank, to each rank
  auto cleanup = [&] {
    for (int fd : ups) close(fd);
    for (int fd : downs) close(fd);
    for (pid_t pid : pids) {
      int status = 0;
      while (waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          kill(pid, SIGKILL);
          waitpid(pid, &status, 0);
          break;
        }
        usleep(1000);
      }
    }
  };
  for (int rank = 0; rank < ranks; ++rank) {
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0) {
      cleanup();
      return Status::Error("UCX group: pipe() failed for rank {}", rank);
    }
    const pid_t pid = fork();
    if (pid < 0) {
      cleanup();
      return Status::Error("UCX group: fork() failed for rank {}", rank);
    }
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
  std::vector<std::string> addresses(static_cast<size_t>(ranks));
  Status failed;
  for (int rank = 0; rank < ranks && failed.ok(); ++rank) {
    if (!ReadMessage(ups[rank], addresses[rank], deadline))
      failed = Status::Error("UCX group: rank {} sent no address", rank);
  }
  for (int fd : downs) {
    for (const std::string& blob : addresses) WriteMessage(fd, blob.data(), blob.size());
  }
  std::vector<std::string> texts(static_cast<size_t>(ranks));
  for (int rank = 0; rank < ranks && failed.ok(); ++rank) {
    std::string result;
    if (!ReadMessage(ups[rank], result, deadline)) {
      failed = Status::Error("UCX group: rank {} did not finish within {} s (killed)", rank, limit.count());
    } else if (!result.starts_with("+")) {
      failed = Status::Error("UCX group: rank {}: {}", rank, result.substr(1));
    } else {
      texts[rank] = result.substr(1);
    }
  }
  if (!failed.ok()) {
    for (pid_t pid : pids) kill(pid, SIGKILL);
  }
  cleanup();
  if (!failed.ok()) return failed;
  return texts;
}

}  // namespace tandem::bench
