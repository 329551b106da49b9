#include "cli/stop_signals.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace tandem::cli {
namespace {

int stop_pipe[2] = {-1, -1};

// Runs on whichever thread the signal lands on: only async-signal-safe calls.
void OnStopSignal(int sig) {
  const unsigned char byte = static_cast<unsigned char>(sig);
  const int saved = errno;
  [[maybe_unused]] ssize_t n = write(stop_pipe[1], &byte, 1);
  errno = saved;
}

}  // namespace

int WaitForStopSignal() {
  if (stop_pipe[0] < 0 && pipe(stop_pipe) != 0) return 0;
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  unsigned char byte = 0;
  for (;;) {
    ssize_t n = read(stop_pipe[0], &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return 0;
  }
}

}  // namespace tandem::cli
