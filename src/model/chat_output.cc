// Reading a model's output back into an assistant message: the reasoning (<think> ...
// </think>, or up to </think> when the prompt already opened the block), then the
// format's tool calls; what is left is the content.
#include "model/chat_format.h"
#include "model/chat_format_parts.h"
#include "model/chat_text.h"

namespace tandem {

ChatMessage ParseChatOutput(ChatFormat format, const ChatRequest& request, std::string_view output) {
  using namespace chat_text;
  constexpr std::string_view kOpen = "<think>", kClose = "</think>";
  ChatMessage out;
  out.role = ChatRole::kAssistant;

  std::string_view rest = output;
  bool in_reasoning = GenerationStartsInReasoning(format, request);
  std::string_view lead = rest.substr(std::min(rest.size(), rest.find_first_not_of(" \t\n\r")));
  if (!in_reasoning && lead.starts_with(kOpen)) {
    in_reasoning = true;
    rest = lead.substr(kOpen.size());
  }
  if (in_reasoning) {
    size_t close = rest.find(kClose);
    std::string_view reasoning = close == std::string_view::npos ? rest : rest.substr(0, close);
    rest = close == std::string_view::npos ? std::string_view() : rest.substr(close + kClose.size());
    out.reasoning_content = std::string(StripSpace(reasoning));
  }

  auto tools = chat_parts::ParseTools(request.tools);  // bad definitions: read without types
  static const std::vector<OrderedJson> kNoTools;
  switch (format) {
    case ChatFormat::kQwen3: chat_parts::ReadQwen3ToolCalls(rest, out); break;
    case ChatFormat::kMiniMaxM2: chat_parts::ReadMiniMaxM2ToolCalls(rest, tools ? *tools : kNoTools, out); break;
  }
  return out;
}

}  // namespace tandem
