// Stop strings over streamed text: generation ends as soon as the detokenized text
// contains one of them, even when it arrives split across token boundaries, and neither
// the stop string nor anything after it is ever emitted. "As soon as" is by byte, not by
// delta: the stop that completes first wins (at a tie the longest), so the result does
// not depend on how the text was split into deltas. Text that could still turn out
// to be the start of a stop string (and an incomplete UTF-8 sequence at the end) is held
// back until the next delta decides it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tandem {

class StopStringMatcher {
 public:
  struct Result {
    std::string emit;      // safe to show now
    bool stopped = false;  // a stop string was hit: generation should end
    std::string stop;      // which one
  };

  // Empty strings in `stops` are ignored; no stops: every delta passes straight through.
  explicit StopStringMatcher(std::vector<std::string> stops);

  // Feeds the next piece of text. After a stop, further calls return nothing.
  Result Feed(std::string_view delta);

  // End of generation: the held-back tail (empty after a stop).
  std::string Flush();

  bool stopped() const { return stopped_; }
  const std::vector<std::string>& stops() const { return stops_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace tandem
