#include "model/chat_format.h"

#include "model/chat_format_parts.h"
#include "model/chat_text.h"

namespace tandem {

std::string_view ChatFormatName(ChatFormat format) {
  switch (format) {
    case ChatFormat::kQwen3: return "qwen3";
    case ChatFormat::kMiniMaxM2: return "minimax-m2";
  }
  return "?";
}

Expected<ChatFormat> ParseChatFormat(std::string_view name) {
  for (ChatFormat f : {ChatFormat::kQwen3, ChatFormat::kMiniMaxM2}) {
    if (ChatFormatName(f) == name) return f;
  }
  return Status::Error("unknown chat format '{}': supported are qwen3 and minimax-m2", name);
}

Expected<ChatFormat> ChatFormatOfTemplate(std::string_view t) {
  using chat_text::Contains;
  if (Contains(t, "]~b]ai") && Contains(t, "<minimax:tool_call>")) return ChatFormat::kMiniMaxM2;
  if (Contains(t, "<|im_start|>") && Contains(t, "<tool_call>") && Contains(t, "</think>")) return ChatFormat::kQwen3;
  std::string start(t.substr(0, 80));
  for (char& c : start) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return Status::Error(
      "chat template ({} bytes, starting '{}{}') is not one tandem can render: supported are qwen3 "
      "(ChatML <|im_start|> with <think> and <tool_call>) and minimax-m2 (]~b]ai with <minimax:tool_call>); "
      "choose one of those formats by name to override",
      t.size(), start, t.size() > start.size() ? "..." : "");
}

ChatFormat DefaultChatFormat(Arch arch) {
  return arch == Arch::kMiniMaxM2 ? ChatFormat::kMiniMaxM2 : ChatFormat::kQwen3;
}

Expected<ChatFormat> DetectChatFormat(const GgufMetadata& md) {
  constexpr std::string_view kTemplateKey = "tokenizer.chat_template";
  if (md.Has(kTemplateKey)) {
    TANDEM_ASSIGN_OR_RETURN(std::string text, md.GetString(kTemplateKey));
    auto format = ChatFormatOfTemplate(text);
    if (!format) return format.status().WithContext(kTemplateKey);
    return *format;
  }
  if (!md.Has("general.architecture")) {
    return Status::Error(
        "model has neither tokenizer.chat_template nor general.architecture: cannot tell its chat format; "
        "choose qwen3 or minimax-m2 by name");
  }
  TANDEM_ASSIGN_OR_RETURN(std::string arch_name, md.GetString("general.architecture"));
  auto arch = ParseArch(arch_name);
  if (!arch)
    return arch.status().WithContext("no tokenizer.chat_template, so the chat format follows the architecture");
  return DefaultChatFormat(*arch);
}

Expected<std::string> RenderChat(ChatFormat format, const ChatRequest& request) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<OrderedJson> tools, chat_parts::ParseTools(request.tools));
  switch (format) {
    case ChatFormat::kQwen3: return chat_parts::RenderQwen3(request, tools);
    case ChatFormat::kMiniMaxM2: return chat_parts::RenderMiniMaxM2(request, tools);
  }
  return Status::Error("unknown chat format {}", static_cast<int>(format));
}

bool GenerationStartsInReasoning(ChatFormat format, const ChatRequest& request) {
  return format == ChatFormat::kMiniMaxM2 && request.add_generation_prompt;
}

namespace chat_parts {

Expected<std::vector<OrderedJson>> ParseTools(const std::vector<std::string>& tools) {
  std::vector<OrderedJson> out;
  out.reserve(tools.size());
  for (size_t i = 0; i < tools.size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(OrderedJson tool, ParseOrderedJson(tools[i], fmt::format("tool definition {}", i)));
    if (!tool.is_object()) {
      return Status::Error(
          "tool definition {} is not a JSON object: pass {{\"type\": \"function\", \"function\": {{...}}}}", i);
    }
    if (!tool.contains("function")) {
      if (!tool.contains("name")) {
        return Status::Error(
            "tool definition {} has neither \"function\" nor \"name\": pass {{\"type\": \"function\", "
            "\"function\": {{\"name\": ..., \"parameters\": ...}}}}",
            i);
      }
      tool = OrderedJson{{"type", "function"}, {"function", std::move(tool)}};
    }
    out.push_back(std::move(tool));
  }
  return out;
}

}  // namespace chat_parts
}  // namespace tandem
