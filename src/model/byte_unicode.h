// The GPT-2 byte-level alphabet: each byte 0..255 is written as one printable code
// point, so that every byte string is a string of "characters" BPE can merge. Printable
// Latin-1 bytes (! .. ~, ¡ .. ¬, ® .. ÿ) stand for themselves; the other 68 bytes map,
// in order, to U+0100, U+0101, ... (space 0x20 -> U+0120 'Ġ', newline 0x0A -> U+010A 'Ċ').
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem {

// The code point standing for byte b.
uint32_t ByteToCodepoint(uint8_t b);
// Its UTF-8 (1 or 2 bytes).
std::string_view ByteToUtf8(uint8_t b);
// The byte a code point stands for, or -1 when it is outside the alphabet.
int CodepointToByte(uint32_t cpt);

// Raw bytes -> token text in the alphabet.
std::string ByteEncode(std::string_view bytes);
// Token text -> raw bytes. A code point outside the alphabet (or invalid UTF-8) cannot
// come from ByteEncode; it is kept as its own UTF-8 bytes.
std::string ByteDecode(std::string_view token_text);

}  // namespace tandem
