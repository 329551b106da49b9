// The byte-level BPE tokenizer of a GGUF model (tokenizer.ggml.model "gpt2": Qwen2/3,
// MiniMax-M2), read from the file's metadata. Encoding follows llama.cpp step for step
// (its tokenizer is the oracle in tests/oracle/tokenizer_oracle.py):
//   1. special tokens written in the text are cut out (special_tokens.h);
//   2. each remaining stretch is read as UTF-8 the lenient llama.cpp way: every byte
//      that starts no sequence becomes U+FFFD, overlong forms are rewritten (utf8.h);
//   3. the pre-tokenizer regex splits it into words (pre_tokenizer.h);
//   4. BPE merges each word's bytes (bpe.h).
// Decoding maps ids back to bytes; StreamDecoder (stream_decoder.h) does it token by
// token without splitting a UTF-8 sequence.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "model/bpe.h"
#include "model/gguf_value.h"
#include "model/pre_tokenizer.h"
#include "model/special_tokens.h"

namespace tandem {

using TokenId = int32_t;
constexpr TokenId kNoToken = -1;

// llama.cpp's token types (values of tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // <|im_start|>, <think> in Qwen3: matched in text only when parsing specials
  kUserDefined = 4,  // always matched in text, decoded as their text
  kUnused = 5,
  kByte = 6,
};

struct EncodeOptions {
  bool add_special = true;    // BOS/EOS where the model asks for them (add_bos(), add_eos())
  bool parse_special = true;  // control tokens written in the text become their ids; false: they are
                              // plain text (user-defined tokens are matched either way, as in llama.cpp)
};

class Tokenizer {
 public:
  // Needs tokenizer.ggml.{model = "gpt2", pre, tokens, merges}; token_type, the special
  // ids and add_bos_token/add_eos_token are optional (all normal, none, false).
  static Expected<Tokenizer> FromMetadata(const GgufMetadata& md);

  // Fails only where PCRE2 does (out of memory); any bytes are accepted.
  Expected<std::vector<TokenId>> Encode(std::string_view text, const EncodeOptions& options = {}) const;

  // The bytes of one token: normal tokens through the byte alphabet, user-defined tokens
  // as their text, control and unknown tokens as their text only when render_special;
  // unused, byte and undefined tokens and ids out of range give nothing.
  std::string_view Piece(TokenId id, bool render_special = true) const;
  // Pieces concatenated: raw bytes, UTF-8 only where the tokens make it so (see
  // StreamDecoder for text that is always valid).
  std::string Decode(std::span<const TokenId> ids, bool render_special = true) const;

  int32_t n_vocab() const { return static_cast<int32_t>(texts_.size()); }
  bool IsValid(TokenId id) const { return id >= 0 && id < n_vocab(); }
  // The token as stored in the file (normal tokens in the byte alphabet: "Ġthe").
  std::string_view Text(TokenId id) const;
  // After llama.cpp's fix-ups (end-of-turn and FIM tokens made control, ...).
  TokenType Type(TokenId id) const;
  TokenId Find(std::string_view text) const;  // by stored text; kNoToken when absent

  const std::string& pre() const { return pre_.name(); }
  TokenId bos() const { return bos_; }  // kNoToken when the file names none
  TokenId eos() const { return eos_; }
  TokenId eot() const { return eot_; }  // tokenizer.ggml.eot_token_id, else found by text (<|im_end|>, ...)
  TokenId pad() const { return pad_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // Tokens that end generation: eos, eot and the end-of-turn texts llama.cpp knows.
  bool IsEndOfGeneration(TokenId id) const { return eog_.contains(id); }
  const std::unordered_set<TokenId>& end_of_generation() const { return eog_; }

 private:
  Status EncodeText(std::string_view text, std::vector<TokenId>& out) const;

  std::vector<std::string> texts_;   // [id] as stored
  std::vector<TokenType> types_;     // [id]
  std::vector<std::string> pieces_;  // [id] decoded bytes (control tokens: their text)
  std::unordered_map<std::string, TokenId> ids_;
  PreTokenizer pre_;
  BpeMerger bpe_;
  SpecialTokenMatcher specials_;
  TokenId bos_ = kNoToken, eos_ = kNoToken, eot_ = kNoToken, eom_ = kNoToken, pad_ = kNoToken;
  bool add_bos_ = false, add_eos_ = false;
  std::unordered_set<TokenId> eog_;
};

}  // namespace tandem
