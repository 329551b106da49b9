// Stop strings over streamed text (src/model/stop_strings.h): matches across deltas,
// overlapping prefixes, multibyte UTF-8, flush, and a randomized check against matching
// the whole text at once.
#include "model/stop_strings.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace tandem {
namespace {

struct Streamed {
  std::string emitted;
  std::vector<std::string> chunks;
  bool stopped = false;
  std::string stop;
};

Streamed FeedAll(StopStringMatcher& m, const std::vector<std::string>& deltas, bool flush = true) {
  Streamed s;
  for (const std::string& d : deltas) {
    auto r = m.Feed(d);
    s.emitted += r.emit;
    s.chunks.push_back(r.emit);
    if (r.stopped) {
      s.stopped = true;
      s.stop = r.stop;
    }
  }
  if (flush) s.emitted += m.Flush();
  return s;
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

TEST(StopStrings, NoStopsPassesEverythingThrough) {
  StopStringMatcher m({});
  auto r = m.Feed("hello <|im_end|>");
  EXPECT_EQ(r.emit, "hello <|im_end|>");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopStrings, EmptyStopStringsAreIgnored) {
  StopStringMatcher m({"", "END"});
  EXPECT_EQ(m.stops().size(), 1u);
  EXPECT_EQ(m.Feed("abc").emit, "abc");
}

TEST(StopStrings, StopInsideOneDelta) {
  StopStringMatcher m({"STOP"});
  auto r = m.Feed("Hello STOP world");
  EXPECT_EQ(r.emit, "Hello ");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop, "STOP");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.Feed("more").emit, "");
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopStrings, StopAcrossDeltasIsHeldBackThenDropped) {
  StopStringMatcher m({"STOP"});
  Streamed s = FeedAll(m, {"Hel", "lo ST", "O", "P and more"});
  EXPECT_EQ(s.chunks, (std::vector<std::string>{"Hel", "lo ", "", ""}));
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.emitted, "Hello ");
}

TEST(StopStrings, FalsePrefixIsReleased) {
  StopStringMatcher m({"STOP"});
  EXPECT_EQ(m.Feed("a ST").emit, "a ");
  EXPECT_EQ(m.Feed("X").emit, "STX");
  EXPECT_EQ(m.Feed("STO").emit, "");
  EXPECT_EQ(m.Flush(), "STO");  // end of generation: the held tail was not a stop
}

TEST(StopStrings, OverlappingPrefixes) {
  // "abc" is a prefix of the first stop; its suffix "bc" a prefix of the second.
  StopStringMatcher m({"abcd", "bce"});
  EXPECT_EQ(m.Feed("xabc").emit, "x");
  auto r = m.Feed("e");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop, "bce");
  EXPECT_EQ(r.emit, "a");

  StopStringMatcher self_overlap({"aab"});
  Streamed s = FeedAll(self_overlap, {"a", "a", "a", "b", "c"});
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.emitted, "a");
}

TEST(StopStrings, FirstCompletedStopWinsLongestAtATie) {
  StopStringMatcher m({"world", "lo w"});
  auto r = m.Feed("hello world");
  EXPECT_EQ(r.emit, "hel");
  EXPECT_EQ(r.stop, "lo w");

  // "b" completes before "aabb" does, whether the text comes in one piece or two.
  StopStringMatcher whole({"aabb", "b"});
  r = whole.Feed("xaabb");
  EXPECT_EQ(r.emit, "xaa");
  EXPECT_EQ(r.stop, "b");

  StopStringMatcher tie({"bc", "abc"});
  r = tie.Feed("xabc");
  EXPECT_EQ(r.emit, "x");
  EXPECT_EQ(r.stop, "abc");
}

TEST(StopStrings, MultibyteStopFedByteByByte) {
  StopStringMatcher m({"。"});
  std::string text = "你好。再见";
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  Streamed s = FeedAll(m, bytes);
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.emitted, "你好");
  for (const std::string& chunk : s.chunks) EXPECT_TRUE(ValidUtf8(chunk)) << "chunk splits a character";
}

TEST(StopStrings, IncompleteUtf8IsHeldEvenWithoutAStopPrefix) {
  StopStringMatcher m({"END"});
  std::string rocket = "🚀";  // 4 bytes
  EXPECT_EQ(m.Feed("go " + rocket.substr(0, 2)).emit, "go ");
  EXPECT_EQ(m.Feed(rocket.substr(2)).emit, rocket);
  EXPECT_EQ(m.Feed("\xE4\xBD").emit, "");
  EXPECT_EQ(m.Flush(), "\xE4\xBD");  // a broken tail still comes out at the end
}

TEST(StopStrings, MultibyteStopsAndLookalikes) {
  StopStringMatcher m({"→end", "é"});
  EXPECT_EQ(m.Feed("ã").emit, "ã");  // shares the lead byte 0xC3 with é, not a prefix
  EXPECT_EQ(m.Feed("a→e").emit, "a");
  auto r = m.Feed("nd!");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop, "→end");
  EXPECT_EQ(r.emit, "");
}

TEST(StopStrings, ChatEndMarkersSplitLikeTokens) {
  StopStringMatcher m({"<|im_end|>", "[e~["});
  Streamed s = FeedAll(m, {"The answer", " is 4.", "<|", "im", "_end", "|>", "\n"});
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.stop, "<|im_end|>");
  EXPECT_EQ(s.emitted, "The answer is 4.");
}

// Streaming with any split of the text gives what matching the whole text gives.
TEST(StopStrings, RandomSplitsAgreeWithWholeTextMatch) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab\xC3\xA9";  // 'a', 'b' and é: prefixes overlap, bytes split
  for (int iter = 0; iter < 3000; ++iter) {
    auto rand_text = [&](size_t max_len) {
      std::string s;
      size_t n = rng() % (max_len + 1);
      for (size_t i = 0; i < n; ++i) {
        if (rng() % 3 == 2) {
          s += "\xC3\xA9";
        } else {
          s += alphabet[rng() % 2];
        }
      }
      return s;
    };
    std::vector<std::string> stops;
    for (int k = 0, n = 1 + rng() % 3; k < n; ++k) {
      std::string st = rand_text(4);
      if (st.empty()) st.push_back('a');
      stops.push_back(st);
    }
    std::string text = rand_text(24);

    // The stop whose first occurrence ends first; at a tie the one that starts first.
    size_t want_at = std::string::npos, want_end = std::string::npos;
    for (const std::string& st : stops) {
      size_t at = text.find(st);
      if (at == std::string::npos) continue;
      if (at + st.size() < want_end || (at + st.size() == want_end && at < want_at)) {
        want_at = at;
        want_end = at + st.size();
      }
    }
    std::string want = want_at == std::string::npos ? text : text.substr(0, want_at);

    std::vector<std::string> deltas;
    for (size_t pos = 0; pos < text.size();) {
      size_t len = 1 + rng() % 5;
      deltas.push_back(text.substr(pos, len));
      pos += len;
    }
    StopStringMatcher m(stops);
    Streamed s = FeedAll(m, deltas);
    std::string all_stops;
    for (const std::string& st : stops) all_stops += "[" + st + "]";
    ASSERT_EQ(s.emitted, want) << "text " << text << " stops " << all_stops;
    ASSERT_EQ(s.stopped, want_at != std::string::npos);
  }
}

}  // namespace
}  // namespace tandem
