// The pre-tokenizer of a byte-level BPE vocabulary (tokenizer.ggml.pre): a regex that
// cuts text into words before BPE runs on each word, so merges never cross a word
// boundary. Patterns are llama.cpp's for each name, run with PCRE2 (UTF, JIT).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tandem {

class PreTokenizer {
 public:
  // "qwen2" (Qwen2/Qwen3) or "minimax-m2" (o200k-style); anything else is an error.
  static Expected<PreTokenizer> ForName(std::string_view pre);
  // Names ForName accepts, for messages.
  static std::string_view KnownNames();

  const std::string& name() const { return name_; }

  // Appends the words of text, in order, as views into text; together they cover all of
  // it. text must be as NormalizeUtf8Lenient leaves it (surrogate code points allowed;
  // they split like any other non-letter, non-digit, non-space character).
  Status Split(std::string_view text, std::vector<std::string_view>& words) const;

 private:
  struct Regex;
  std::string name_;
  std::shared_ptr<const Regex> regex_;
};

}  // namespace tandem
