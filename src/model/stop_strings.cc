#include "model/stop_strings.h"

#include <algorithm>

namespace tandem {
namespace {

// Length of the longest suffix of `text` that is a proper prefix of some stop string.
size_t PartialStopSuffix(std::string_view text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const std::string& stop : stops) {
    size_t max_len = std::min(stop.size() - 1, text.size());
    for (size_t len = max_len; len > best; --len) {
      if (text.substr(text.size() - len) == std::string_view(stop).substr(0, len)) {
        best = len;
        break;
      }
    }
  }
  return best;
}

// Bytes at the end of `text` that begin a UTF-8 sequence not yet complete.
size_t IncompleteUtf8Tail(std::string_view text) {
  size_t n = text.size();
  for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
    auto c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;  // ASCII end, or stray continuation bytes: nothing to wait for
}

}  // namespace

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

StopStringMatcher::Result StopStringMatcher::Feed(std::string_view delta) {
  Result r;
  if (stopped_) return r;
  held_.append(delta);

  // The stop that completes first in the text (as if fed byte by byte, so the result
  // does not depend on how the text was split); at a tie the longest, which starts first.
  size_t hit = std::string::npos, hit_end = std::string::npos;
  for (const std::string& stop : stops_) {
    size_t at = held_.find(stop);
    if (at == std::string::npos) continue;
    size_t end = at + stop.size();
    if (end < hit_end || (end == hit_end && at < hit)) {
      hit = at;
      hit_end = end;
      r.stop = stop;
    }
  }
  if (hit != std::string::npos) {
    r.emit = held_.substr(0, hit);
    r.stopped = stopped_ = true;
    held_.clear();
    return r;
  }
  r.stop.clear();

  size_t keep = PartialStopSuffix(held_, stops_);
  size_t keep_utf8 = IncompleteUtf8Tail(std::string_view(held_).substr(0, held_.size() - keep));
  keep += keep_utf8;
  r.emit = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return r;
}

std::string StopStringMatcher::Flush() {
  std::string tail;
  tail.swap(held_);
  return tail;
}

}  // namespace tandem
