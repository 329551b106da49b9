// Special tokens written in the text ("<|im_start|>", "<think>") are cut out before the
// pre-tokenizer runs, exactly as llama.cpp does: token by token, longest text first,
// every occurrence left to right inside the text not yet claimed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

struct SpecialToken {
  int32_t id = 0;
  std::string text;
  bool control = false;  // control or unknown type: matched only when parsing specials
                         // (user-defined tokens are always matched)
};

// A piece of the text: a special token, or plain text for the BPE path.
struct TextFragment {
  int32_t token = -1;     // >= 0: a special token's id
  std::string_view text;  // the bytes covered (the token's text, or the plain text)
  bool is_token() const { return token >= 0; }
};

class SpecialTokenMatcher {
 public:
  SpecialTokenMatcher() = default;
  explicit SpecialTokenMatcher(std::vector<SpecialToken> tokens);

  // Cuts text into fragments in order; with parse_special false, control tokens stay text.
  std::vector<TextFragment> Partition(std::string_view text, bool parse_special) const;

  size_t size() const { return tokens_.size(); }

 private:
  std::vector<SpecialToken> tokens_;           // by priority: longer text first, then lower id
  std::vector<std::vector<uint32_t>> by_byte_;  // [first byte] -> indices into tokens_
};

}  // namespace tandem
