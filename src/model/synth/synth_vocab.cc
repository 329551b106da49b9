#include "model/synth/synth_vocab.h"

#include <span>
#include <vector>

#include "model/gguf_model.h"
#include "model/synth/chat_templates.h"

namespace tandem {
namespace {

// llama.cpp token types
constexpr int32_t kTokenControl = 3;
constexpr int32_t kTokenUserDefined = 4;

struct SpecialToken {
  uint32_t id;
  std::string_view text;
};

// Qwen3 keeps its real ids (they fall in the padding of the Qwen2 vocabulary);
// MiniMax-M2's markers take the first padding slots.
constexpr SpecialToken kQwen3Specials[] = {
    {151657, "<tool_call>"}, {151658, "</tool_call>"}, {151667, "<think>"}, {151668, "</think>"}};
constexpr SpecialToken kMiniMaxSpecials[] = {
    {151646, "]~!b["},  {151647, "]~b]"},    {151648, "[e~["}, {151649, "<think>"},
    {151650, "</think>"}, {151651, "<minimax:tool_call>"}, {151652, "</minimax:tool_call>"}};

struct SpecialIds {
  uint32_t bos, eos, pad;
};

std::span<const SpecialToken> Specials(Arch arch) {
  if (arch == Arch::kQwen3Moe) return kQwen3Specials;
  return kMiniMaxSpecials;
}

SpecialIds Ids(Arch arch) {
  if (arch == Arch::kQwen3Moe) return {151643, 151645, 151643};  // <|endoftext|>, <|im_end|>
  return {151646, 151648, 151643};                                // ]~!b[, [e~[
}

}  // namespace

Expected<uint32_t> VocabSize(const std::string& vocab_path) {
  TANDEM_ASSIGN_OR_RETURN(GgufModel vocab, GgufModel::Open(vocab_path));
  auto tokens = vocab.metadata().GetArray("tokenizer.ggml.tokens", GgufValueType::STRING);
  if (!tokens.ok()) return tokens.status().WithContext(vocab_path);
  return static_cast<uint32_t>((*tokens)->size());
}

Status WriteSynthVocab(Arch arch, const std::string& vocab_path, uint32_t n_vocab, GgufMetadata& md) {
  TANDEM_ASSIGN_OR_RETURN(GgufModel vocab, GgufModel::Open(vocab_path));
  const GgufMetadata& src = vocab.metadata();
  auto tokens_arr = src.GetArray("tokenizer.ggml.tokens", GgufValueType::STRING);
  auto types_arr = src.GetArray("tokenizer.ggml.token_type", GgufValueType::INT32);
  auto merges_arr = src.GetArray("tokenizer.ggml.merges", GgufValueType::STRING);
  auto model = src.GetString("tokenizer.ggml.model");
  for (const Status* st : {&tokens_arr.status(), &types_arr.status(), &merges_arr.status(), &model.status()}) {
    if (!st->ok()) return st->WithContext(fmt::format("vocab file {}", vocab_path));
  }
  std::vector<std::string> tokens = (*tokens_arr)->strings;
  std::vector<int32_t> types((*types_arr)->ints.begin(), (*types_arr)->ints.end());
  if (types.size() != tokens.size()) {
    return Status::Error("vocab file {}: {} tokens but {} token types", vocab_path, tokens.size(), types.size());
  }
  if (n_vocab < tokens.size()) {
    return Status::Error("vocab size {} is smaller than the {} tokens of {}: give at least {}", n_vocab,
                         tokens.size(), vocab_path, tokens.size());
  }
  for (uint32_t id = static_cast<uint32_t>(tokens.size()); id < n_vocab; ++id) {
    tokens.push_back(fmt::format("[PAD{}]", id));
    types.push_back(kTokenUserDefined);
  }
  for (const SpecialToken& special : Specials(arch)) {
    if (special.id >= tokens.size() || types[special.id] != kTokenUserDefined) {
      return Status::Error("vocab file {}: token {} is not a padding slot, cannot place '{}' there", vocab_path,
                           special.id, special.text);
    }
    tokens[special.id] = std::string(special.text);
    types[special.id] = kTokenControl;
  }
  SpecialIds ids = Ids(arch);
  md.Set("tokenizer.ggml.model", GgufValue::String(*model));
  md.Set("tokenizer.ggml.pre", GgufValue::String(std::string(Traits(arch).pre_tokenizer)));
  md.Set("tokenizer.ggml.tokens", GgufValue::StringArray(std::move(tokens)));
  md.Set("tokenizer.ggml.token_type", GgufValue::I32Array(types));
  md.Set("tokenizer.ggml.merges", GgufValue::StringArray((*merges_arr)->strings));
  md.Set("tokenizer.ggml.bos_token_id", GgufValue::U32(ids.bos));
  md.Set("tokenizer.ggml.eos_token_id", GgufValue::U32(ids.eos));
  md.Set("tokenizer.ggml.padding_token_id", GgufValue::U32(ids.pad));
  md.Set("tokenizer.ggml.add_bos_token", GgufValue::Bool(false));
  md.Set("tokenizer.chat_template", GgufValue::String(std::string(ChatTemplate(arch))));
  return Status::Ok();
}

std::string_view ChatTemplate(Arch arch) {
  return arch == Arch::kQwen3Moe ? kChatTemplateQwen3 : kChatTemplateMiniMaxM2;
}

}  // namespace tandem
