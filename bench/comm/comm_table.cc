#include "bench/comm/comm_table.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>

namespace tandem::bench {
namespace {

std::string_view OpName(CommOp op) {
  switch (op) {
    case CommOp::kAllReduce:
      return "all-reduce";
    case CommOp::kGather:
      return "gather";
    case CommOp::kBroadcast:
      return "broadcast";
  }
  return "?";
}

std::string Size(const CommMessage& m) {
  const std::string bytes =
      m.bytes() >= 1024 ? fmt::format("{:.1f} KiB", m.bytes() / 1024.0) : fmt::format("{} B", m.bytes());
  return m.op == CommOp::kGather ? bytes + "/rank" : bytes;
}

std::string Header(const BackendResult& r) { return fmt::format("{} x{}", r.name, r.ranks); }

}  // namespace

std::string FormatCommTable(const std::vector<CommMessage>& messages, const std::vector<BackendResult>& results) {
  constexpr int kWhat = 37, kSize = 14, kCount = 8, kCol = 19;
  std::string out = fmt::format("{:<{}}{:>{}}{:>{}}", "", kWhat, "", kSize, "", kCount);
  for (const BackendResult& r : results) out += fmt::format("{:>{}}", Header(r), kCol);
  out += fmt::format("\n{:<{}}{:>{}}{:>{}}", "collective (µs: p50 / p99)", kWhat, "message", kSize, "/token", kCount);
  for (size_t i = 0; i < results.size(); ++i) out += fmt::format("{:>{}}", "p50     p99", kCol);
  out += "\n";
  for (size_t m = 0; m < messages.size(); ++m) {
    out += fmt::format("{:<{}}{:>{}}{:>{}}", messages[m].what, kWhat, Size(messages[m]), kSize, messages[m].per_token,
                       kCount);
    for (const BackendResult& r : results) {
      out += r.per_message.size() > m
                 ? fmt::format("{:>{}}",
                               fmt::format("{:8.1f}{:8.1f}", r.per_message[m].p50_us, r.per_message[m].p99_us), kCol)
                 : fmt::format("{:>{}}", "-", kCol);
    }
    out += "\n";
  }
  int64_t per_token = 0;
  for (const CommMessage& m : messages) per_token += m.per_token;
  out += fmt::format("{:<{}}{:>{}}{:>{}}", "comm per token (Σ count x p50, µs)", kWhat, "", kSize, per_token, kCount);
  for (const BackendResult& r : results) {
    out += r.per_message.empty() ? fmt::format("{:>{}}", "-", kCol)
                                 : fmt::format("{:>{}}", fmt::format("{:.0f}", r.PerTokenMicros(messages)), kCol);
  }
  out += "\n";
  for (const BackendResult& r : results) {
    if (!r.skipped.empty()) out += fmt::format("{}: {}\n", Header(r), r.skipped);
  }
  return out;
}

Status WriteCommCsv(const std::string& path, const std::vector<CommMessage>& messages,
                    const std::vector<BackendResult>& results) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "w"), &std::fclose);
  if (!file) return Status::Error("--csv {}: cannot open it for writing", path);
  fmt::print(file.get(), "backend,ranks,collective,op,bytes,per_token,p50_us,p99_us\n");
  for (const BackendResult& r : results) {
    for (size_t m = 0; m < r.per_message.size() && m < messages.size(); ++m) {
      fmt::print(file.get(), "{},{},{},{},{},{},{:.3f},{:.3f}\n", r.name, r.ranks, messages[m].what,
                 OpName(messages[m].op), messages[m].bytes(), messages[m].per_token, r.per_message[m].p50_us,
                 r.per_message[m].p99_us);
    }
    if (!r.per_message.empty()) {
      fmt::print(file.get(), "{},{},comm per token,,,,{:.3f},\n", r.name, r.ranks, r.PerTokenMicros(messages));
    }
  }
  if (std::ferror(file.get())) return Status::Error("--csv {}: write failed", path);
  return Status::Ok();
}

}  // namespace tandem::bench
