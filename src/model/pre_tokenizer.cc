#include "model/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <string>

namespace tandem {
namespace {

// llama.cpp's patterns (src/llama-vocab.cpp, LLAMA_VOCAB_PRE_TYPE_QWEN2 and _MINIMAX_M2),
// byte for byte; they are adapted for PCRE2 below.
constexpr std::string_view kQwen2Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kMiniMaxM2Pattern =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+)"
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?)"
    R"(|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*)"
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct NamedPattern {
  std::string_view name;
  std::string_view pattern;
};
constexpr std::array<NamedPattern, 2> kPatterns = {{{"qwen2", kQwen2Pattern}, {"minimax-m2", kMiniMaxM2Pattern}}};

// llama.cpp's whitespace: the Unicode White_Space property (its \s), not PCRE2's \s,
// which differs at U+180E.
constexpr std::string_view kWhitespaceClass = R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029})"
                                              R"(\x{202F}\x{205F}\x{3000})";

// \s and \S written out as kWhitespaceClass, inside and outside brackets.
std::string ExpandWhitespace(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? std::string(kWhitespaceClass) : "[" + std::string(kWhitespaceClass) + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + std::string(kWhitespaceClass) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[') in_class = true;
    if (c == ']') in_class = false;
    out += c;
  }
  return out;
}

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// The pattern PCRE2 runs. llama.cpp spells "a letter other than a-z" as the repeated
// group ((?=[\p{L}])([^a-z])) because its std::regex fallback has no class subtraction;
// [^\P{L}a-z] matches the same characters one at a time without a group per letter
// (no backtracking frames on long words).
std::string PcrePattern(std::string_view llama_pattern) {
  std::string p(llama_pattern);
  ReplaceAll(p, R"(((?=[\p{L}])([^a-z])))", R"([^\P{L}a-z])");
  ReplaceAll(p, R"(((?=[\p{L}])([^A-Z])))", R"([^\P{L}A-Z])");
  return ExpandWhitespace(p);
}

std::string PcreErrorMessage(int code) {
  std::array<PCRE2_UCHAR, 256> buf{};
  pcre2_get_error_message(code, buf.data(), buf.size());
  return std::string(reinterpret_cast<const char*>(buf.data()));
}

// Surrogates (ED A0..BF xx) are not UTF-8 to PCRE2; U+E000 (EE 80 80, same length) is
// in the same class for these patterns: not a letter, digit or space.
bool HasSurrogate(std::string_view text) {
  for (size_t i = text.find('\xED'); i != std::string_view::npos && i + 1 < text.size();
       i = text.find('\xED', i + 1)) {
    if (static_cast<uint8_t>(text[i + 1]) >= 0xA0) return true;
  }
  return false;
}

std::string ReplaceSurrogates(std::string_view text) {
  std::string out(text);
  for (size_t i = 0; i + 2 < out.size(); ++i) {
    if (out[i] == '\xED' && static_cast<uint8_t>(out[i + 1]) >= 0xA0) {
      out[i] = '\xEE';
      out[i + 1] = '\x80';
      out[i + 2] = '\x80';
      i += 2;
    }
  }
  return out;
}

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

std::string_view PreTokenizer::KnownNames() { return "qwen2, minimax-m2"; }

Expected<PreTokenizer> PreTokenizer::ForName(std::string_view pre) {
  const NamedPattern* found = nullptr;
  for (const auto& p : kPatterns) {
    if (p.name == pre) found = &p;
  }
  if (found == nullptr) {
    return Status::Error("unknown pre-tokenizer '{}' (tokenizer.ggml.pre): tandem knows {}; a new one needs its "
                         "regex from llama.cpp's src/llama-vocab.cpp added to src/model/pre_tokenizer.cc",
                         pre, KnownNames());
  }
  const std::string pattern = PcrePattern(found->pattern);
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  auto regex = std::make_shared<Regex>();
  regex->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                              &error, &error_offset, nullptr);
  if (regex->code == nullptr) {
    return Status::Error("pre-tokenizer '{}': PCRE2 rejects the pattern at offset {}: {}", pre, error_offset,
                         PcreErrorMessage(error));
  }
  // JIT is an optimisation: without it (a platform PCRE2 lacks JIT for) matching is the same, slower.
  (void)pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);
  PreTokenizer p;
  p.name_ = std::string(pre);
  p.regex_ = std::move(regex);
  return p;
}

Status PreTokenizer::Split(std::string_view text, std::vector<std::string_view>& words) const {
  std::string substitute;
  std::string_view subject = text;
  if (HasSurrogate(text)) {
    substitute = ReplaceSurrogates(text);
    subject = substitute;
  }
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(regex_->code, nullptr), &pcre2_match_data_free);
  if (match == nullptr) return Status::Error("pre-tokenizer '{}': out of memory for PCRE2 match data", name_);
  const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t start = 0;  // where the next search begins
  size_t done = 0;   // end of the last word emitted
  while (start < subject.size()) {
    const int rc = pcre2_match(regex_->code, data, subject.size(), start, PCRE2_NO_UTF_CHECK, match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      return Status::Error("pre-tokenizer '{}': PCRE2 match failed at byte {} of {}: {}", name_, start,
                           subject.size(), PcreErrorMessage(rc));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    const size_t begin = ovector[0], end = ovector[1];
    if (begin > done) {  // text no alternative matched
      words.push_back(text.substr(done, begin - done));
      done = begin;
    }
    if (end == begin) {  // cannot happen with these patterns; step one character to stay finite
      start = end + 1;
      while (start < subject.size() && (static_cast<uint8_t>(subject[start]) & 0xC0) == 0x80) ++start;
      continue;
    }
    words.push_back(text.substr(begin, end - begin));
    done = start = end;
  }
  if (done < text.size()) words.push_back(text.substr(done));
  return Status::Ok();
}

}  // namespace tandem
