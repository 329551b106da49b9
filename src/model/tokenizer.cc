#include "model/tokenizer.h"

#include <array>
#include <initializer_list>

#include "model/byte_unicode.h"
#include "model/utf8.h"

namespace tandem {
namespace {

constexpr std::string_view kFixHint =
    "the model's GGUF carries its tokenizer; re-convert it with a current llama.cpp convert_hf_to_gguf.py";

// llama.cpp finds these by text when the file names no id (llama-vocab.cpp, load()),
// and makes the token found a control token.
struct TextRule {
  std::string_view key;  // tokenizer.ggml.<key>_token_id that overrides the search
  std::initializer_list<std::string_view> texts;
};
const std::array<TextRule, 8> kFoundByText = {{
    {"eot",
     {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
      "<｜end▁of▁sentence｜>", "<end_of_utterance>"}},
    {"eom", {"<|eom_id|>"}},
    {"fim_pre",
     {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>"}},
    {"fim_suf",
     {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>"}},
    {"fim_mid",
     {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>"}},
    {"fim_pad", {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"}},
    {"fim_rep", {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
    {"fim_sep", {"<|file_sep|>"}},
}};
// End of generation by text (made control too); fim_pad/rep/sep, eos, eot, eom are added.
constexpr std::array<std::string_view, 12> kEndOfGenerationTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>",   "<|return|>", "<|call|>",        "<end_of_turn>",
    "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",     "<|end_of_text|>", "<end_of_utterance>"};
// gpt-oss markers llama.cpp always renders.
constexpr std::array<std::string_view, 4> kAlwaysRendered = {"<|channel|>", "<|message|>", "<|start|>",
                                                             "<|constrain|>"};

Expected<TokenId> OptionalId(const GgufMetadata& md, std::string_view key, int32_t n_vocab) {
  if (!md.Has(key)) return kNoToken;
  TANDEM_ASSIGN_OR_RETURN(uint32_t id, md.GetU32(key));
  if (id >= static_cast<uint32_t>(n_vocab)) {
    return Status::Error("{} = {} is outside the vocabulary of {} tokens: {}", key, id, n_vocab, kFixHint);
  }
  return static_cast<TokenId>(id);
}

Expected<bool> OptionalBool(const GgufMetadata& md, std::string_view key) {
  if (!md.Has(key)) return false;
  return md.GetBool(key);
}

TokenType TypeOf(int64_t v) {
  return v >= 0 && v <= 6 ? static_cast<TokenType>(v) : TokenType::kUndefined;
}

}  // namespace

Expected<Tokenizer> Tokenizer::FromMetadata(const GgufMetadata& md) {
  if (!md.Has("tokenizer.ggml.model")) {
    return Status::Error("this GGUF has no tokenizer (no tokenizer.ggml.model): {}", kFixHint);
  }
  TANDEM_ASSIGN_OR_RETURN(std::string model, md.GetString("tokenizer.ggml.model"));
  if (model != "gpt2") {
    return Status::Error("tokenizer.ggml.model is '{}'; tandem implements 'gpt2' (byte-level BPE, the tokenizer of "
                         "Qwen3 and MiniMax-M2) only",
                         model);
  }
  if (!md.Has("tokenizer.ggml.pre")) {
    return Status::Error("tokenizer.ggml.pre is missing, so the pre-tokenizer is unknown (tandem knows {}): {}",
                         PreTokenizer::KnownNames(), kFixHint);
  }
  TANDEM_ASSIGN_OR_RETURN(std::string pre, md.GetString("tokenizer.ggml.pre"));
  Tokenizer t;
  TANDEM_ASSIGN_OR_RETURN(t.pre_, PreTokenizer::ForName(pre));

  TANDEM_ASSIGN_OR_RETURN(const GgufArray* tokens, md.GetArray("tokenizer.ggml.tokens", GgufValueType::STRING));
  TANDEM_ASSIGN_OR_RETURN(const GgufArray* merges, md.GetArray("tokenizer.ggml.merges", GgufValueType::STRING));
  const int32_t n_vocab = static_cast<int32_t>(tokens->strings.size());
  if (n_vocab == 0) return Status::Error("tokenizer.ggml.tokens is empty: {}", kFixHint);
  t.texts_ = tokens->strings;
  for (int32_t id = 0; id < n_vocab; ++id) {
    if (t.texts_[id].empty()) t.texts_[id] = fmt::format("[EMPTY_{}]", id);  // as llama.cpp
  }
  t.types_.assign(n_vocab, TokenType::kNormal);
  if (md.Has("tokenizer.ggml.token_type")) {
    TANDEM_ASSIGN_OR_RETURN(const GgufArray* types, md.GetArray("tokenizer.ggml.token_type", GgufValueType::INT32));
    if (types->ints.size() != static_cast<size_t>(n_vocab)) {
      return Status::Error("tokenizer.ggml.token_type has {} entries for {} tokens: {}", types->ints.size(), n_vocab,
                           kFixHint);
    }
    for (int32_t id = 0; id < n_vocab; ++id) t.types_[id] = TypeOf(types->ints[id]);
  }
  t.ids_.reserve(n_vocab);
  for (int32_t id = 0; id < n_vocab; ++id) t.ids_[t.texts_[id]] = id;  // a repeated text: the last id wins

  TANDEM_ASSIGN_OR_RETURN(t.bos_, OptionalId(md, "tokenizer.ggml.bos_token_id", n_vocab));
  TANDEM_ASSIGN_OR_RETURN(t.eos_, OptionalId(md, "tokenizer.ggml.eos_token_id", n_vocab));
  TANDEM_ASSIGN_OR_RETURN(t.pad_, OptionalId(md, "tokenizer.ggml.padding_token_id", n_vocab));
  TANDEM_ASSIGN_OR_RETURN(t.add_bos_, OptionalBool(md, "tokenizer.ggml.add_bos_token"));
  TANDEM_ASSIGN_OR_RETURN(t.add_eos_, OptionalBool(md, "tokenizer.ggml.add_eos_token"));

  // llama.cpp's fix-ups by text, in its order.
  std::vector<TokenId> found_end_tokens;  // fim_pad, fim_rep, fim_sep: end generation
  for (const TextRule& rule : kFoundByText) {
    TANDEM_ASSIGN_OR_RETURN(TokenId id, OptionalId(md, fmt::format("tokenizer.ggml.{}_token_id", rule.key), n_vocab));
    if (id == kNoToken) {
      // llama.cpp takes whichever its hash map lists first; here the first text in the
      // list wins (for Qwen: <|im_end|> over <|endoftext|>, both end generation)
      for (std::string_view text : rule.texts) {
        if (id == kNoToken) id = t.Find(text);
      }
      if (id != kNoToken) t.types_[id] = TokenType::kControl;
    }
    if (rule.key == "eot") t.eot_ = id;
    if (rule.key == "eom") t.eom_ = id;
    if (id != kNoToken && (rule.key == "fim_pad" || rule.key == "fim_rep" || rule.key == "fim_sep")) {
      found_end_tokens.push_back(id);
    }
  }
  t.eog_.insert(found_end_tokens.begin(), found_end_tokens.end());
  for (std::string_view text : kEndOfGenerationTexts) {
    if (TokenId id = t.Find(text); id != kNoToken) {
      t.eog_.insert(id);
      t.types_[id] = TokenType::kControl;
    }
  }
  for (std::string_view text : kAlwaysRendered) {
    if (TokenId id = t.Find(text); id != kNoToken) t.types_[id] = TokenType::kUserDefined;
  }
  for (TokenId id : {t.eos_, t.eot_, t.eom_}) {
    if (id != kNoToken) t.eog_.insert(id);
  }

  std::vector<SpecialToken> specials;
  t.pieces_.resize(n_vocab);
  for (int32_t id = 0; id < n_vocab; ++id) {
    const TokenType type = t.types_[id];
    if (type == TokenType::kControl || type == TokenType::kUnknown || type == TokenType::kUserDefined) {
      specials.push_back({id, t.texts_[id], type != TokenType::kUserDefined});
      t.pieces_[id] = t.texts_[id];
    } else if (type == TokenType::kNormal) {
      t.pieces_[id] = ByteDecode(t.texts_[id]);
    }
  }
  t.specials_ = SpecialTokenMatcher(std::move(specials));
  auto bpe = BpeMerger::Build(t.ids_, n_vocab, merges->strings);
  if (!bpe.ok()) return bpe.status().WithContext(std::string(kFixHint));
  t.bpe_ = std::move(bpe).value();
  return t;
}

Status Tokenizer::EncodeText(std::string_view text, std::vector<TokenId>& out) const {
  std::string normalized_storage;
  const std::string_view normalized = NormalizeUtf8Lenient(text, normalized_storage);
  thread_local std::vector<std::string_view> words;
  words.clear();
  TANDEM_TRY(pre_.Split(normalized, words));
  for (std::string_view word : words) bpe_.Encode(word, out);
  return Status::Ok();
}

Expected<std::vector<TokenId>> Tokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 2);
  if (options.add_special && add_bos_ && bos_ != kNoToken) out.push_back(bos_);
  for (const TextFragment& fragment : specials_.Partition(text, options.parse_special)) {
    if (fragment.is_token()) {
      out.push_back(fragment.token);
    } else {
      TANDEM_TRY(EncodeText(fragment.text, out));
    }
  }
  if (options.add_special && add_eos_ && eos_ != kNoToken) out.push_back(eos_);
  return out;
}

std::string_view Tokenizer::Piece(TokenId id, bool render_special) const {
  if (!IsValid(id)) return {};
  const TokenType type = types_[id];
  if (!render_special && (type == TokenType::kControl || type == TokenType::kUnknown)) return {};
  return pieces_[id];
}

std::string Tokenizer::Decode(std::span<const TokenId> ids, bool render_special) const {
  std::string out;
  for (TokenId id : ids) out.append(Piece(id, render_special));
  return out;
}

std::string_view Tokenizer::Text(TokenId id) const { return IsValid(id) ? std::string_view(texts_[id]) : ""; }

TokenType Tokenizer::Type(TokenId id) const { return IsValid(id) ? types_[id] : TokenType::kUndefined; }

TokenId Tokenizer::Find(std::string_view text) const {
  auto it = ids_.find(std::string(text));
  return it == ids_.end() ? kNoToken : it->second;
}

}  // namespace tandem
