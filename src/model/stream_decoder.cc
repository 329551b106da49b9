#include "model/stream_decoder.h"

#include "model/utf8.h"

namespace tandem {

std::string StreamDecoder::Feed(TokenId id) {
  pending_.append(tokenizer_->Piece(id, render_special_));
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    Utf8Check c = CheckUtf8(pending_, pos);
    if (c.status == Utf8Status::kIncomplete) break;  // wait for the bytes that complete it
    if (c.status == Utf8Status::kComplete) {
      out.append(pending_, pos, c.length);
      pos += c.length;
    } else {
      AppendUtf8(kReplacementChar, out);
      pos += 1;
    }
  }
  pending_.erase(0, pos);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out;
  for (size_t i = 0; i < pending_.size(); ++i) AppendUtf8(kReplacementChar, out);
  pending_.clear();
  return out;
}

}  // namespace tandem
