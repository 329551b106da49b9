// The few Python string operations the chat templates use (strip('\n'), split()[0],
// split()[-1], `in`), with Python's exact meaning, for the hand-written renderers.
#pragma once

#include <string>
#include <string_view>

namespace tandem::chat_text {

inline std::string_view LstripNewlines(std::string_view s) {
  size_t i = s.find_first_not_of('\n');
  return i == std::string_view::npos ? std::string_view() : s.substr(i);
}
inline std::string_view RstripNewlines(std::string_view s) {
  size_t i = s.find_last_not_of('\n');
  return i == std::string_view::npos ? std::string_view() : s.substr(0, i + 1);
}
inline std::string_view StripNewlines(std::string_view s) { return RstripNewlines(LstripNewlines(s)); }

// s.split(sep)[0]: the text before the first `sep` (all of s when absent).
inline std::string_view BeforeFirst(std::string_view s, std::string_view sep) {
  size_t i = s.find(sep);
  return i == std::string_view::npos ? s : s.substr(0, i);
}
// s.split(sep)[-1]: the text after the last `sep` (all of s when absent).
inline std::string_view AfterLast(std::string_view s, std::string_view sep) {
  size_t i = s.rfind(sep);
  return i == std::string_view::npos ? s : s.substr(i + sep.size());
}
// out += a + b + ...: without the temporaries (and GCC 12's false -Wrestrict on them).
template <typename... Pieces>
void Append(std::string& out, const Pieces&... pieces) {
  (out.append(std::string_view(pieces)), ...);
}

inline bool Contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// Whitespace as Python's str.strip() sees it in ASCII (what a model puts around blocks).
inline std::string_view StripSpace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

}  // namespace tandem::chat_text
