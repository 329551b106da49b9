// A progress line for long reads and writes: done/total, percent, throughput, ETA.
// Redrawn in place on a terminal; on a pipe or file, one line every few seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tandem {

class Progress {
 public:
  // `total` in `unit`s ("B" formats as KiB/MiB/GiB and throughput as GB/s).
  Progress(std::string label, uint64_t total, std::string unit = "B", FILE* out = stderr);
  ~Progress();  // calls Finish() if not yet done
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Add(uint64_t amount);  // thread-compatible, not thread-safe
  void Finish();              // print the final line with the average rate

 private:
  void Draw(bool final);

  std::string label_;
  std::string unit_;
  uint64_t total_;
  uint64_t done_ = 0;
  FILE* out_;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1.50 GiB", "512 B".
std::string FormatBytes(double bytes);

}  // namespace tandem
