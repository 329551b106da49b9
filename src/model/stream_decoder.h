// Token ids in, text out as generation goes: a token can end in the middle of a UTF-8
// sequence (an emoji is often 2-4 byte tokens), so the decoder holds such a tail back
// until the tokens that complete it arrive. Everything it returns is valid UTF-8: a byte
// that can start no valid sequence, or one whose sequence the next bytes break, becomes
// U+FFFD; Flush() turns a tail still incomplete at the end into one U+FFFD per byte.
#pragma once

#include <string>

#include "model/tokenizer.h"

namespace tandem {

class StreamDecoder {
 public:
  // tokenizer must outlive the decoder. render_special: control tokens appear as their
  // text ("<|im_end|>"); false leaves them out.
  explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = true)
      : tokenizer_(&tokenizer), render_special_(render_special) {}

  // The text this token completes (often empty while a sequence is open).
  std::string Feed(TokenId id);
  // Bytes given but not yet returned (at most 3, an incomplete sequence's start).
  const std::string& pending() const { return pending_; }
  // End of the stream: the held-back tail, each byte as U+FFFD; the decoder is reset.
  std::string Flush();
  void Reset() { pending_.clear(); }

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace tandem
