// UTF-8 for the tokenizer: encoding code points, the lenient decoding llama.cpp applies
// to tokenizer input, and the strict checks the streaming decoder needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tandem {

constexpr uint32_t kReplacementChar = 0xFFFD;  // U+FFFD, UTF-8 EF BF BD
constexpr uint32_t kMaxCodepoint = 0x10FFFF;

// Appends the UTF-8 form of cpt (<= kMaxCodepoint; surrogates are encoded as they are).
void AppendUtf8(uint32_t cpt, std::string& out);

// One code point read from text at a byte position.
struct Utf8Char {
  uint32_t cpt = kReplacementChar;
  uint32_t length = 1;  // bytes consumed
  bool valid = false;   // false: the byte at pos starts no sequence; cpt is U+FFFD, length 1
};

// Lenient decoding, the rule llama.cpp's tokenizer applies: a lead byte and the right
// number of continuation bytes form a code point, with no check for overlong forms or
// surrogates (C0 80 reads as U+0000, ED A0 80 as U+D800). Anything else — a stray
// continuation byte, a truncated sequence, a byte F8..FF — is invalid: one byte, U+FFFD.
// Unlike llama.cpp (which aborts on them) a sequence above U+10FFFF is invalid too.
Utf8Char DecodeUtf8Lenient(std::string_view text, size_t pos);

// How llama.cpp sees tokenizer input: every code point DecodeUtf8Lenient reads, written
// back in shortest form; each invalid byte becomes U+FFFD. Returns text itself when that
// changes nothing (the common case), else the rewritten text in storage.
std::string_view NormalizeUtf8Lenient(std::string_view text, std::string& storage);

// Strict UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
enum class Utf8Status { kComplete, kIncomplete, kInvalid };
struct Utf8Check {
  Utf8Status status = Utf8Status::kInvalid;
  uint32_t length = 1;  // kComplete: bytes of the sequence; kIncomplete: bytes present
};
// The sequence starting at text[pos]: complete, a valid prefix cut off by the end of
// text, or invalid at its first byte.
Utf8Check CheckUtf8(std::string_view text, size_t pos);
bool IsValidUtf8(std::string_view text);

// Strict form of text: each byte that starts no valid sequence becomes U+FFFD.
std::string ToValidUtf8(std::string_view text);

}  // namespace tandem
