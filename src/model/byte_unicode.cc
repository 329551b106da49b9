#include "model/byte_unicode.h"

#include <array>

#include "model/utf8.h"

namespace tandem {
namespace {

struct ByteTables {
  std::array<uint32_t, 256> cpt{};
  std::array<std::string, 256> utf8;
  std::array<int16_t, 324> byte_of{};  // code points 0..323 cover the whole alphabet

  ByteTables() {
    byte_of.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      cpt[b] = printable ? b : next++;
      AppendUtf8(cpt[b], utf8[b]);
      byte_of[cpt[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteTables& Tables() {
  static const ByteTables tables;
  return tables;
}

}  // namespace

uint32_t ByteToCodepoint(uint8_t b) { return Tables().cpt[b]; }

std::string_view ByteToUtf8(uint8_t b) { return Tables().utf8[b]; }

int CodepointToByte(uint32_t cpt) {
  const auto& t = Tables();
  return cpt < t.byte_of.size() ? t.byte_of[cpt] : -1;
}

std::string ByteEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out.append(ByteToUtf8(static_cast<uint8_t>(c)));
  return out;
}

std::string ByteDecode(std::string_view token_text) {
  std::string out;
  out.reserve(token_text.size());
  for (size_t pos = 0; pos < token_text.size();) {
    Utf8Check c = CheckUtf8(token_text, pos);
    if (c.status != Utf8Status::kComplete) {
      out.push_back(token_text[pos++]);
      continue;
    }
    Utf8Char ch = DecodeUtf8Lenient(token_text, pos);
    const int b = CodepointToByte(ch.cpt);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(token_text.substr(pos, c.length));
    }
    pos += c.length;
  }
  return out;
}

}  // namespace tandem
