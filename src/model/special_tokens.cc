#include "model/special_tokens.h"

#include <algorithm>
#include <iterator>
#include <map>

namespace tandem {

SpecialTokenMatcher::SpecialTokenMatcher(std::vector<SpecialToken> tokens)
    : tokens_(std::move(tokens)), by_byte_(256) {
  // llama.cpp sorts by length only (std::sort, ties unordered); ties by id here. Two
  // tokens of one length can only disagree where their occurrences overlap.
  std::stable_sort(tokens_.begin(), tokens_.end(), [](const SpecialToken& a, const SpecialToken& b) {
    if (a.text.size() != b.text.size()) return a.text.size() > b.text.size();
    return a.id < b.id;
  });
  for (uint32_t i = 0; i < tokens_.size(); ++i) {
    if (!tokens_[i].text.empty()) by_byte_[static_cast<uint8_t>(tokens_[i].text[0])].push_back(i);
  }
}

// Equivalent to llama.cpp's tokenizer_st_partition: there, each token in priority order
// splits every remaining plain-text fragment at its leftmost occurrences (searching on
// after each one). Here all occurrences are found in one pass over the text, then each
// token in priority order claims, left to right, those that do not overlap a claimed
// span or its own previous claim.
std::vector<TextFragment> SpecialTokenMatcher::Partition(std::string_view text, bool parse_special) const {
  struct Occurrence {
    uint32_t token;  // index into tokens_
    size_t pos;
  };
  std::vector<Occurrence> found;
  if (!tokens_.empty()) {
    for (size_t pos = 0; pos < text.size(); ++pos) {
      const auto& candidates = by_byte_[static_cast<uint8_t>(text[pos])];
      for (uint32_t t : candidates) {
        const SpecialToken& token = tokens_[t];
        if (!parse_special && token.control) continue;
        if (text.compare(pos, token.text.size(), token.text) == 0) found.push_back({t, pos});
      }
    }
  }
  std::sort(found.begin(), found.end(), [](const Occurrence& a, const Occurrence& b) {
    return a.token != b.token ? a.token < b.token : a.pos < b.pos;
  });

  std::map<size_t, std::pair<size_t, int32_t>> claimed;  // start -> (end, token id)
  const auto overlaps = [&](size_t begin, size_t end) {
    auto next = claimed.lower_bound(begin);
    if (next != claimed.end() && next->first < end) return true;
    if (next != claimed.begin() && std::prev(next)->second.first > begin) return true;
    return false;
  };
  uint32_t current = UINT32_MAX;
  size_t own_end = 0;  // end of the current token's last claim
  for (const Occurrence& o : found) {
    if (o.token != current) {
      current = o.token;
      own_end = 0;
    }
    const size_t end = o.pos + tokens_[o.token].text.size();
    if (o.pos < own_end || overlaps(o.pos, end)) continue;
    claimed.emplace(o.pos, std::make_pair(end, tokens_[o.token].id));
    own_end = end;
  }

  std::vector<TextFragment> fragments;
  size_t pos = 0;
  for (const auto& [begin, span] : claimed) {
    if (begin > pos) fragments.push_back({-1, text.substr(pos, begin - pos)});
    fragments.push_back({span.second, text.substr(begin, span.first - begin)});
    pos = span.first;
  }
  if (pos < text.size()) fragments.push_back({-1, text.substr(pos)});
  return fragments;
}

}  // namespace tandem
