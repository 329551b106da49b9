#include "common/progress.h"

#include <fmt/format.h>
#include <unistd.h>

namespace tandem {

std::string FormatBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.2f} {}", bytes, units[u]);
}

Progress::Progress(std::string label, uint64_t total, std::string unit, FILE* out)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      out_(out),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { Finish(); }

void Progress::Add(uint64_t amount) {
  done_ += amount;
  auto now = std::chrono::steady_clock::now();
  auto interval = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  if (now - last_draw_ >= interval) {
    last_draw_ = now;
    Draw(false);
  }
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  Draw(true);
}

void Progress::Draw(bool final) {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  double pct = total_ > 0 ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100.0;
  std::string amounts, speed;
  if (unit_ == "B") {
    amounts = fmt::format("{} / {}", FormatBytes(static_cast<double>(done_)),
                          FormatBytes(static_cast<double>(total_)));
    speed = fmt::format("{:.2f} GB/s", rate / 1e9);
  } else {
    amounts = fmt::format("{} / {} {}", done_, total_, unit_);
    speed = fmt::format("{:.1f} {}/s", rate, unit_);
  }
  std::string tail = final ? fmt::format("in {:.1f} s", seconds)
                           : fmt::format("ETA {:.0f} s", rate > 0 ? (total_ - done_) / rate : 0.0);
  std::string line = fmt::format("{}: {:5.1f}%  {}  {}  {}", label_, pct, amounts, speed, tail);
  if (tty_) {
    fmt::print(out_, "\r\033[K{}{}", line, final ? "\n" : "");
  } else {
    fmt::print(out_, "{}\n", line);
  }
  std::fflush(out_);
}

}  // namespace tandem
