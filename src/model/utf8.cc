#include "model/utf8.h"

namespace tandem {
namespace {

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

}  // namespace

void AppendUtf8(uint32_t cpt, std::string& out) {
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

Utf8Char DecodeUtf8Lenient(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return {b0, 1, true};
  uint32_t length = 0;
  uint32_t cpt = 0;
  if ((b0 & 0xE0) == 0xC0) {
    length = 2;
    cpt = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3;
    cpt = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4;
    cpt = b0 & 0x07;
  } else {
    return {};  // continuation byte or F8..FF
  }
  if (pos + length > text.size()) return {};
  for (uint32_t i = 1; i < length; ++i) {
    if (!IsContinuation(byte(i))) return {};
    cpt = (cpt << 6) | (byte(i) & 0x3F);
  }
  if (cpt > kMaxCodepoint) return {};
  return {cpt, length, true};
}

std::string_view NormalizeUtf8Lenient(std::string_view text, std::string& storage) {
  // Fast path: find the first position where the normalized form would differ.
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    Utf8Check strict = CheckUtf8(text, pos);
    if (strict.status != Utf8Status::kComplete) break;
    pos += strict.length;
  }
  // Surrogates stop the fast path too; the slow path writes them back unchanged.
  if (pos == text.size()) return text;
  storage.assign(text.substr(0, pos));
  while (pos < text.size()) {
    Utf8Char c = DecodeUtf8Lenient(text, pos);
    AppendUtf8(c.cpt, storage);
    pos += c.length;
  }
  return storage;
}

Utf8Check CheckUtf8(std::string_view text, size_t pos) {
  const uint8_t b0 = static_cast<uint8_t>(text[pos]);
  if (b0 < 0x80) return {Utf8Status::kComplete, 1};
  uint32_t length = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {Utf8Status::kInvalid, 1};
  }
  for (uint32_t i = 1; i < length; ++i) {
    if (pos + i >= text.size()) return {Utf8Status::kIncomplete, i};
    const uint8_t b = static_cast<uint8_t>(text[pos + i]);
    const bool ok = i == 1 ? (b >= lo && b <= hi) : IsContinuation(b);
    if (!ok) return {Utf8Status::kInvalid, 1};
  }
  return {Utf8Status::kComplete, length};
}

bool IsValidUtf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    Utf8Check c = CheckUtf8(text, pos);
    if (c.status != Utf8Status::kComplete) return false;
    pos += c.length;
  }
  return true;
}

std::string ToValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    Utf8Check c = CheckUtf8(text, pos);
    if (c.status == Utf8Status::kComplete) {
      out.append(text.substr(pos, c.length));
      pos += c.length;
    } else {
      AppendUtf8(kReplacementChar, out);
      pos += 1;
    }
  }
  return out;
}

}  // namespace tandem
