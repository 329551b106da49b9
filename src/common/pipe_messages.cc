#include "common/pipe_messages.h"

#include <poll.h>
#include <unistd.h>

#include <cstdint>

namespace tandem {

bool WriteAll(int fd, const void* data, size_t bytes) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = write(fd, p, bytes);
    if (n <= 0) return false;
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

size_t ReadUntil(int fd, void* data, size_t bytes, PipeClock::time_point deadline) {
  auto* p = static_cast<char*>(data);
  size_t got = 0;
  while (got < bytes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - PipeClock::now()).count();
    pollfd pfd{fd, POLLIN, 0};
    if (left <= 0 || poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30))) <= 0) break;
    const ssize_t n = read(fd, p + got, bytes - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

bool WriteMessage(int fd, const void* data, size_t bytes) {
  const auto length = static_cast<uint32_t>(bytes);
  return WriteAll(fd, &length, sizeof(length)) && WriteAll(fd, data, bytes);
}

bool ReadMessage(int fd, std::string& out, PipeClock::time_point deadline) {
  uint32_t length = 0;
  if (ReadUntil(fd, &length, sizeof(length), deadline) != sizeof(length)) return false;
  out.resize(length);
  return ReadUntil(fd, out.data(), length, deadline) == length;
}

}  // namespace tandem
