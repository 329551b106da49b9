// Qwen3's chat format, as tests/data/templates/Qwen-Qwen3-0.6B.jinja renders it:
//
//   <|im_start|>system\n{system}\n\n# Tools ... <tools>\n{tool json}...</tools> ...<|im_end|>\n
//   <|im_start|>user\n{content}<|im_end|>\n
//   <|im_start|>assistant\n<think>\n{reasoning}\n</think>\n\n{content}
//     \n<tool_call>\n{"name": "f", "arguments": {json}}\n</tool_call><|im_end|>\n
//   <|im_start|>user\n<tool_response>\n{result}\n</tool_response>...<|im_end|>\n
//
// The think block of an assistant turn is kept only after the last real user query
// (tool results come in user turns but do not count), and there only for the last
// message or when it has reasoning. Consecutive tool results share one user turn.
#include <string>

#include "model/chat_format_parts.h"
#include "model/chat_text.h"

namespace tandem::chat_parts {
namespace {

using namespace chat_text;

constexpr std::string_view kToolsPreamble =
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
constexpr std::string_view kToolsPostamble =
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";

bool IsToolResponse(std::string_view content) {
  return content.starts_with("<tool_response>") && content.ends_with("</tool_response>");
}

// The template prints a string as written and anything else through tojson; our
// arguments are JSON text, so text that parses to a non-string value is that value.
std::string ArgumentsText(const std::string& arguments) {
  OrderedJson parsed = OrderedJson::parse(arguments, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || parsed.is_string()) return arguments;
  return PythonJsonDumps(parsed);
}

void RenderAssistant(const ChatMessage& m, bool after_last_query, bool is_last, std::string& out) {
  std::string_view content = m.content;
  std::string_view reasoning;
  if (m.reasoning_content) {
    reasoning = *m.reasoning_content;
  } else if (Contains(m.content, "</think>")) {
    content = LstripNewlines(AfterLast(m.content, "</think>"));
    reasoning = LstripNewlines(AfterLast(RstripNewlines(BeforeFirst(m.content, "</think>")), "<think>"));
  }
  out += "<|im_start|>assistant\n";
  if (after_last_query && (is_last || !reasoning.empty())) {
    out += "<think>\n";
    out += StripNewlines(reasoning);
    out += "\n</think>\n\n";
    out += LstripNewlines(content);
  } else {
    out += content;
  }
  for (size_t j = 0; j < m.tool_calls.size(); ++j) {
    if (j > 0 || !content.empty()) out += '\n';
    out += "<tool_call>\n{\"name\": \"";
    out += m.tool_calls[j].name;
    out += "\", \"arguments\": ";
    out += ArgumentsText(m.tool_calls[j].arguments);
    out += "}\n</tool_call>";
  }
  out += "<|im_end|>\n";
}

}  // namespace

Expected<std::string> RenderQwen3(const ChatRequest& request, const std::vector<OrderedJson>& tools) {
  const std::vector<ChatMessage>& msgs = request.messages;
  if (msgs.empty()) return Status::Error("qwen3 chat: no messages to render: add at least one message");
  const bool system_first = msgs[0].role == ChatRole::kSystem;
  std::string out;
  if (!tools.empty()) {
    out += "<|im_start|>system\n";
    if (system_first) Append(out, msgs[0].content, "\n\n");
    out += kToolsPreamble;
    for (const OrderedJson& tool : tools) {
      out += '\n';
      out += PythonJsonDumps(tool);
    }
    out += kToolsPostamble;
  } else if (system_first) {
    Append(out, "<|im_start|>system\n", msgs[0].content, "<|im_end|>\n");
  }

  // The last user message that is a query, not tool results pasted into a user turn.
  size_t last_query = msgs.size() - 1;
  for (size_t i = msgs.size(); i-- > 0;) {
    if (msgs[i].role == ChatRole::kUser && !IsToolResponse(msgs[i].content)) {
      last_query = i;
      break;
    }
  }

  for (size_t i = 0; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    const bool is_last = i + 1 == msgs.size();
    switch (m.role) {
      case ChatRole::kSystem:
        if (i == 0) break;  // rendered above
        [[fallthrough]];
      case ChatRole::kUser:
        out += "<|im_start|>";
        out += ChatRoleName(m.role);
        Append(out, "\n", m.content, "<|im_end|>\n");
        break;
      case ChatRole::kAssistant: RenderAssistant(m, i > last_query, is_last, out); break;
      case ChatRole::kTool:
        if (i == 0 || msgs[i - 1].role != ChatRole::kTool) out += "<|im_start|>user";
        Append(out, "\n<tool_response>\n", m.content, "\n</tool_response>");
        if (is_last || msgs[i + 1].role != ChatRole::kTool) out += "<|im_end|>\n";
        break;
    }
  }
  if (request.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (!request.enable_thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

void ReadQwen3ToolCalls(std::string_view text, ChatMessage& out) {
  constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";
  std::string content;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find(kOpen, pos);
    if (open == std::string_view::npos) break;
    size_t close = text.find(kClose, open + kOpen.size());
    if (close == std::string_view::npos) break;  // unterminated: the rest stays content
    std::string_view body = StripSpace(text.substr(open + kOpen.size(), close - open - kOpen.size()));
    size_t end = close + kClose.size();
    OrderedJson call = OrderedJson::parse(body, nullptr, /*allow_exceptions=*/false);
    const bool well_formed = call.is_object() && call.contains("name") && call["name"].is_string() &&
                             !call["name"].get_ref<const std::string&>().empty() &&
                             (!call.contains("arguments") || !call["arguments"].is_null());
    if (!well_formed) {
      content += text.substr(pos, end - pos);  // kept as written
      pos = end;
      continue;
    }
    content += text.substr(pos, open - pos);
    ToolCall tc;
    tc.name = call["name"].get<std::string>();
    if (!call.contains("arguments")) {
      tc.arguments = "{}";
    } else if (call["arguments"].is_string()) {
      tc.arguments = call["arguments"].get<std::string>();  // already JSON text
    } else {
      tc.arguments = call["arguments"].dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
    }
    out.tool_calls.push_back(std::move(tc));
    pos = end;
  }
  if (pos < text.size()) content += text.substr(pos);
  out.content = std::string(StripSpace(content));
}

}  // namespace tandem::chat_parts
