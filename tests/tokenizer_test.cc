// Tokenizer (src/model/tokenizer.h and its parts): byte alphabet, UTF-8 rules, the
// pre-tokenizers, BPE on handmade vocabularies, special tokens, load errors, streaming
// decode, and the speed on 1 MB of mixed text. tests/oracle/tokenizer_oracle.py checks
// the ids against llama.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "model/byte_unicode.h"
#include "model/gguf_model.h"
#include "model/pre_tokenizer.h"
#include "model/stream_decoder.h"
#include "model/tokenizer.h"
#include "model/utf8.h"

namespace tandem {
namespace {

const std::string kQwen2Vocab = std::string(TANDEM_TEST_DATA_DIR) + "/vocab-qwen2.gguf";

const Tokenizer& Qwen2() {
  static const Tokenizer tokenizer = [] {
    auto model = GgufModel::Open(kQwen2Vocab);
    EXPECT_TRUE(model.ok()) << model.status().message();
    auto t = Tokenizer::FromMetadata(model->metadata());
    EXPECT_TRUE(t.ok()) << t.status().message();
    return std::move(t).value();
  }();
  return tokenizer;
}

// A vocabulary of the 256 byte tokens (ids 0..255, in byte order), then `extra` tokens
// (text in the byte alphabet, type), with the given merges.
struct HandmadeVocab {
  std::vector<std::pair<std::string, int32_t>> extra;
  std::vector<std::string> merges;
  std::string pre = "qwen2";
  std::string model = "gpt2";

  GgufMetadata Metadata() const {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    for (int b = 0; b < 256; ++b) {
      tokens.emplace_back(ByteToUtf8(static_cast<uint8_t>(b)));
      types.push_back(1);
    }
    for (const auto& [text, type] : extra) {
      tokens.push_back(text);
      types.push_back(type);
    }
    GgufMetadata md;
    md.Set("tokenizer.ggml.model", GgufValue::String(model));
    md.Set("tokenizer.ggml.pre", GgufValue::String(pre));
    md.Set("tokenizer.ggml.tokens", GgufValue::StringArray(tokens));
    md.Set("tokenizer.ggml.token_type", GgufValue::I32Array(types));
    md.Set("tokenizer.ggml.merges", GgufValue::StringArray(merges));
    return md;
  }
  Tokenizer Build() const {
    auto t = Tokenizer::FromMetadata(Metadata());
    EXPECT_TRUE(t.ok()) << t.status().message();
    return std::move(t).value();
  }
};

std::vector<TokenId> Encode(const Tokenizer& t, std::string_view text, bool parse_special = true) {
  auto ids = t.Encode(text, {.add_special = false, .parse_special = parse_special});
  EXPECT_TRUE(ids.ok()) << ids.status().message();
  return ids.ok() ? *ids : std::vector<TokenId>{};
}

std::vector<std::string> Split(const PreTokenizer& pre, std::string_view text) {
  std::vector<std::string_view> words;
  EXPECT_TRUE(pre.Split(text, words).ok());
  return {words.begin(), words.end()};
}

TEST(ByteUnicode, MapsEveryByteToOnePrintableCodepointAndBack) {
  EXPECT_EQ(ByteToCodepoint(' '), 0x120u);   // Ġ
  EXPECT_EQ(ByteToCodepoint('\n'), 0x10Au);  // Ċ
  EXPECT_EQ(ByteToCodepoint('A'), uint32_t{'A'});
  EXPECT_EQ(ByteToCodepoint(0xE9), 0xE9u);   // é stands for itself
  EXPECT_EQ(ByteToCodepoint(0xAD), 0x143u);  // soft hyphen is not printable
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
    EXPECT_EQ(CodepointToByte(ByteToCodepoint(static_cast<uint8_t>(b))), b);
  }
  EXPECT_EQ(CodepointToByte(0x4E2D), -1);
  const std::string encoded = ByteEncode(all);
  EXPECT_TRUE(IsValidUtf8(encoded));
  EXPECT_EQ(ByteDecode(encoded), all);
  EXPECT_EQ(ByteDecode("中"), "中");  // outside the alphabet: kept
}

TEST(Utf8, LenientDecodingIsLlamaCppRule) {
  EXPECT_EQ(DecodeUtf8Lenient("\xC3\xA9", 0).cpt, 0xE9u);
  EXPECT_EQ(DecodeUtf8Lenient("\xC0\x80", 0).cpt, 0u);  // overlong accepted
  EXPECT_EQ(DecodeUtf8Lenient("\xED\xA0\x80", 0).cpt, 0xD800u);  // surrogate accepted
  EXPECT_FALSE(DecodeUtf8Lenient("\x80", 0).valid);
  EXPECT_FALSE(DecodeUtf8Lenient("\xE2\x82", 0).valid);  // truncated
  EXPECT_FALSE(DecodeUtf8Lenient("\xF5\x80\x80\x80", 0).valid);  // above U+10FFFF
  EXPECT_FALSE(DecodeUtf8Lenient("\xFF", 0).valid);

  std::string storage;
  const std::string valid = "plain ascii and é 中 😀";
  EXPECT_EQ(NormalizeUtf8Lenient(valid, storage).data(), valid.data());  // no copy
  EXPECT_EQ(NormalizeUtf8Lenient("a\xFF" "b", storage), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(NormalizeUtf8Lenient("\xC0\x80", storage), std::string(1, '\0'));
  EXPECT_EQ(NormalizeUtf8Lenient("\xED\xA0\x80", storage), "\xED\xA0\x80");
  EXPECT_EQ(NormalizeUtf8Lenient("\xE2\x82", storage), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Utf8, StrictChecks) {
  EXPECT_TRUE(IsValidUtf8("héllo 中 😀"));
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_EQ(CheckUtf8("\xF0\x9F\x98", 0).status, Utf8Status::kIncomplete);
  EXPECT_EQ(CheckUtf8("\xF0\x9F(", 0).status, Utf8Status::kInvalid);
  EXPECT_EQ(ToValidUtf8("a\xFF\xF0\x9F\x98\x80"), "a\xEF\xBF\xBD\xF0\x9F\x98\x80");
}

TEST(PreTokenizer, Qwen2SplitsDigitsSinglyAndContractions) {
  auto pre = PreTokenizer::ForName("qwen2");
  ASSERT_TRUE(pre.ok());
  EXPECT_EQ(Split(*pre, "Hello world's 123"),
            (std::vector<std::string>{"Hello", " world", "'s", " ", "1", "2", "3"}));
  EXPECT_EQ(Split(*pre, "a  \n\n b"), (std::vector<std::string>{"a", "  \n\n", " b"}));
  EXPECT_EQ(Split(*pre, "HTTPServer"), (std::vector<std::string>{"HTTPServer"}));
  EXPECT_EQ(Split(*pre, ""), (std::vector<std::string>{}));
}

TEST(PreTokenizer, MiniMaxM2SplitsAtCaseChangesAndDigitTriples) {
  auto pre = PreTokenizer::ForName("minimax-m2");
  ASSERT_TRUE(pre.ok());
  EXPECT_EQ(Split(*pre, "HTTPServerError 12345"),
            (std::vector<std::string>{"HTTPServer", "Error", " ", "123", "45"}));
  EXPECT_EQ(Split(*pre, "don't"), (std::vector<std::string>{"don't"}));
  EXPECT_EQ(Split(*pre, "a/b\n/"), (std::vector<std::string>{"a", "/b", "\n", "/"}));
}

TEST(PreTokenizer, WordsCoverTheTextEvenWithSurrogatesAndLongRuns) {
  auto pre = PreTokenizer::ForName("minimax-m2");
  ASSERT_TRUE(pre.ok());
  const std::string text = "x\xED\xA0\x80y " + std::string(100000, 'a') + std::string(50000, ' ') + "\xEF\xBF\xBD";
  std::string joined;
  for (const auto& w : Split(*pre, text)) joined += w;
  EXPECT_EQ(joined, text);
}

TEST(PreTokenizer, UnknownNameIsAnErrorNamingIt) {
  auto pre = PreTokenizer::ForName("llama3");
  ASSERT_FALSE(pre.ok());
  EXPECT_NE(pre.status().message().find("'llama3'"), std::string::npos) << pre.status().message();
  EXPECT_NE(pre.status().message().find("qwen2"), std::string::npos);
}

TEST(Bpe, MergesLowestRankFirstLeftmostOnTies) {
  HandmadeVocab v;
  v.extra = {{"ab", 1}, {"bc", 1}, {"abc", 1}, {"aa", 1}};
  v.merges = {"b c", "a b", "a bc", "a a"};
  Tokenizer t = v.Build();
  const TokenId ab = 256, bc = 257, abc = 258, aa = 259;
  EXPECT_EQ(Encode(t, "abc"), (std::vector<TokenId>{abc}));  // b c (rank 0) first, then a bc
  EXPECT_EQ(Encode(t, "ab"), (std::vector<TokenId>{ab}));
  EXPECT_EQ(Encode(t, "bca"), (std::vector<TokenId>{bc, 'a'}));
  EXPECT_EQ(Encode(t, "aaa"), (std::vector<TokenId>{aa, 'a'}));  // leftmost pair wins the tie
  EXPECT_EQ(Encode(t, "aaaa"), (std::vector<TokenId>{aa, aa}));
  EXPECT_EQ(Encode(t, "x"), (std::vector<TokenId>{'x'}));
}

TEST(Bpe, BytesOutsideAsciiGoThroughTheAlphabet) {
  HandmadeVocab v;
  const std::string e_acute = ByteEncode("é");  // two byte tokens "Ã" "©"
  v.extra = {{e_acute, 1}, {ByteEncode(" ") + "x", 1}};
  v.merges = {ByteToUtf8(0xC3).data() + std::string(" ") + ByteToUtf8(0xA9).data(), "Ġ x"};
  Tokenizer t = v.Build();
  EXPECT_EQ(Encode(t, "é x"), (std::vector<TokenId>{256, 257}));
  EXPECT_EQ(t.Decode(Encode(t, "é x")), "é x");
  EXPECT_EQ(t.Piece(257), " x");
  EXPECT_EQ(t.Text(257), "Ġx");
}

TEST(Bpe, MergeWhoseResultIsNoTokenFallsBackLikeLlamaCpp) {
  HandmadeVocab v;
  v.merges = {"a b"};  // "ab" is not a token
  Tokenizer t = v.Build();
  EXPECT_EQ(Encode(t, "ab"), (std::vector<TokenId>{'a', 'b'}));
}

TEST(Bpe, LongWordIsFast) {
  HandmadeVocab v;
  v.extra = {{"aa", 1}};
  v.merges = {"a a"};
  Tokenizer t = v.Build();
  const auto ids = Encode(t, std::string(200001, 'a'));
  ASSERT_EQ(ids.size(), 100001u);
  EXPECT_EQ(ids.back(), 'a');
}

TEST(SpecialTokens, ControlTokensOnlyWhenParsingUserDefinedAlways) {
  HandmadeVocab v;
  v.extra = {{"<|im_start|>", 3}, {"<tool>", 4}, {"<a>", 3}, {"<a><b>", 3}};
  Tokenizer t = v.Build();
  const TokenId im_start = 256, tool = 257, a = 258, ab = 259;
  EXPECT_EQ(Encode(t, "<|im_start|>x<tool>"), (std::vector<TokenId>{im_start, 'x', tool}));
  const auto plain = Encode(t, "<|im_start|>x<tool>", /*parse_special=*/false);
  ASSERT_EQ(plain.back(), tool);
  EXPECT_EQ(t.Decode(plain), "<|im_start|>x<tool>");
  EXPECT_EQ(Encode(t, "<a><b><a>"), (std::vector<TokenId>{ab, a}));  // longest first
  EXPECT_EQ(Encode(t, "<a<a>>"), (std::vector<TokenId>{'<', 'a', a, '>'}));
  EXPECT_EQ(t.Piece(im_start, /*render_special=*/false), "");
  EXPECT_EQ(t.Piece(tool, /*render_special=*/false), "<tool>");
}

TEST(SpecialTokens, Qwen2ChatMarkers) {
  const Tokenizer& t = Qwen2();
  EXPECT_EQ(Encode(t, "<|im_start|>user\nhi<|im_end|>"), (std::vector<TokenId>{151644, 872, 198, 6023, 151645}));
  EXPECT_EQ(t.eos(), 151643);
  EXPECT_EQ(t.eot(), 151645);  // found by its text <|im_end|>
  EXPECT_TRUE(t.IsEndOfGeneration(151645));
  EXPECT_TRUE(t.IsEndOfGeneration(151643));
  EXPECT_FALSE(t.IsEndOfGeneration(151644));
  EXPECT_FALSE(t.add_bos());
  EXPECT_EQ(t.pre(), "qwen2");
  EXPECT_EQ(t.Type(151644), TokenType::kControl);
  EXPECT_EQ(t.Find("<|im_end|>"), 151645);
  EXPECT_EQ(t.Find("no such token"), kNoToken);
}

TEST(Tokenizer, BosAndEosWhenTheModelAsksForThem) {
  HandmadeVocab v;
  v.extra = {{"<s>", 3}, {"</s>", 3}};
  GgufMetadata md = v.Metadata();
  md.Set("tokenizer.ggml.bos_token_id", GgufValue::U32(256));
  md.Set("tokenizer.ggml.eos_token_id", GgufValue::U32(257));
  md.Set("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
  md.Set("tokenizer.ggml.add_eos_token", GgufValue::Bool(true));
  auto t = Tokenizer::FromMetadata(md);
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto ids = t->Encode("x");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<TokenId>{256, 'x', 257}));
  EXPECT_EQ(Encode(*t, "x"), (std::vector<TokenId>{'x'}));
}

TEST(Tokenizer, LoadErrorsNameTheProblem) {
  const auto error_of = [](const GgufMetadata& md) {
    auto t = Tokenizer::FromMetadata(md);
    EXPECT_FALSE(t.ok());
    return t.ok() ? std::string() : t.status().message();
  };
  HandmadeVocab v;
  v.pre = "falcon";
  EXPECT_NE(error_of(v.Metadata()).find("'falcon'"), std::string::npos);
  v.pre = "qwen2";
  v.model = "llama";
  EXPECT_NE(error_of(v.Metadata()).find("'llama'"), std::string::npos);
  v.model = "gpt2";

  GgufMetadata md = v.Metadata();
  GgufMetadata without_merges;
  GgufMetadata without_model;
  GgufMetadata without_pre;
  for (const auto& [key, value] : md.entries()) {
    if (key != "tokenizer.ggml.merges") without_merges.Set(key, value);
    if (key != "tokenizer.ggml.model") without_model.Set(key, value);
    if (key != "tokenizer.ggml.pre") without_pre.Set(key, value);
  }
  EXPECT_NE(error_of(without_merges).find("tokenizer.ggml.merges"), std::string::npos);
  EXPECT_NE(error_of(without_model).find("no tokenizer"), std::string::npos);
  EXPECT_NE(error_of(without_pre).find("tokenizer.ggml.pre"), std::string::npos);

  md.Set("tokenizer.ggml.token_type", GgufValue::I32Array({1, 1}));
  EXPECT_NE(error_of(md).find("token_type has 2 entries"), std::string::npos);
  md = v.Metadata();
  md.Set("tokenizer.ggml.eos_token_id", GgufValue::U32(100000));
  EXPECT_NE(error_of(md).find("eos_token_id"), std::string::npos);
  md = v.Metadata();
  md.Set("tokenizer.ggml.merges", GgufValue::StringArray({"nospace"}));
  EXPECT_NE(error_of(md).find("merges[0]"), std::string::npos);
}

TEST(Tokenizer, RoundTripsValidUtf8OnTheQwen2Vocab) {
  const Tokenizer& t = Qwen2();
  for (std::string_view s : {"Hello, world!", "  多语言 text — ünïcödé\r\n\ttabs", "👨‍👩‍👧‍👦 🇯🇵 1️⃣",
                             "<|im_start|>system\nx<|im_end|>", "'s 'LL 12345678901234567890"}) {
    EXPECT_EQ(t.Decode(Encode(t, s)), s);
  }
}

// Any bytes: no crash, and decoding gives the input as the tokenizer read it.
TEST(Tokenizer, InvalidUtf8NeverCrashesAndDecodesToTheNormalizedText) {
  const Tokenizer& t = Qwen2();
  std::mt19937 rng(5);
  std::string storage;
  for (int i = 0; i < 3000; ++i) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? 0x80 + rng() % 128 : rng() % 256);
    const auto ids = Encode(t, s, /*parse_special=*/false);
    ASSERT_EQ(t.Decode(ids), NormalizeUtf8Lenient(s, storage)) << i;
  }
  EXPECT_EQ(t.Decode(Encode(t, "\xF5\x80\x80\x80")), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StreamDecoder, HoldsBackAnEmojiSplitOverFourByteTokens) {
  HandmadeVocab v;  // no merges: every byte is its own token
  Tokenizer t = v.Build();
  StreamDecoder d(t);
  const std::string text = "a😀é中";
  std::vector<std::string> outputs;
  for (TokenId id : Encode(t, text)) outputs.push_back(d.Feed(id));
  EXPECT_EQ(outputs, (std::vector<std::string>{"a", "", "", "", "😀", "", "é", "", "", "中"}));
  EXPECT_EQ(d.Flush(), "");
}

TEST(StreamDecoder, EveryChunkIsValidUtf8AndTheyAddUp) {
  const Tokenizer& t = Qwen2();
  const std::string text = "emoji 👨‍👩‍👧‍👦🧑🏿‍🚀 and 𝔘𝔫𝔦 and 你好世界 and é́";
  StreamDecoder d(t);
  std::string joined;
  int held = 0;
  for (TokenId id : Encode(t, text)) {
    const std::string chunk = d.Feed(id);
    EXPECT_TRUE(IsValidUtf8(chunk));
    held += chunk.empty();
    joined += chunk;
  }
  joined += d.Flush();
  EXPECT_EQ(joined, text);
  EXPECT_GT(held, 0);  // some token did end inside a character
}

TEST(StreamDecoder, BrokenSequencesBecomeReplacementCharacters) {
  HandmadeVocab v;
  Tokenizer t = v.Build();
  StreamDecoder d(t);
  EXPECT_EQ(d.Feed(0xFF), "\xEF\xBF\xBD");
  EXPECT_EQ(d.Feed(0xE4), "");
  EXPECT_EQ(d.Feed('x'), "\xEF\xBF\xBD" "x");  // E4 then x: the sequence is broken
  EXPECT_EQ(d.Feed(0xF0), "");
  EXPECT_EQ(d.Feed(0x9F), "");
  EXPECT_EQ(d.pending(), "\xF0\x9F");
  EXPECT_EQ(d.Flush(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(d.Feed(-5), "");  // an id out of range gives nothing
}

// 1 MB of mixed text (English, code, CJK, emoji, numbers, chat markers) on one core.
TEST(TokenizerSpeed, OneMegabyteOfMixedText) {
  const Tokenizer& t = Qwen2();
  const std::vector<std::string> parts = {
      "The quick brown fox jumps over the lazy dog; it isn't the first time, and won't be the last. ",
      "def f(x):\n    return [i * 2 for i in range(x) if i % 3 != 0]  # comment\n",
      "我们今天讨论自然语言处理和大型语言模型的推理性能。", "日本語のテキストとカタカナ。", "🙂🎉👍🏽 ",
      "Order #12345678 shipped on 2024-06-11 at 09:41; total $1,234.56.\n",
      "<|im_start|>user\nWhat's up?<|im_end|>\n", "\t\tindented\r\n", "Ünïcödé façade naïve coöperate. "};
  std::mt19937 rng(11);
  std::string text;
  while (text.size() < (1u << 20)) text += parts[rng() % parts.size()];
  const auto start = std::chrono::steady_clock::now();
  const auto ids = Encode(t, text);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("tokenize: %.2f MB of mixed text -> %zu tokens in %.3f s (%.1f MB/s, one core)\n",
              text.size() / 1048576.0, ids.size(), seconds, text.size() / 1048576.0 / seconds);
  EXPECT_EQ(t.Decode(ids), text);
}

}  // namespace
}  // namespace tandem
