// MiniMax-M2's chat format, as tests/data/templates/MiniMax-M2.jinja renders it:
//
//   ]~!b[]~b]system\n{system or "You are a helpful assistant."}{tools block}[e~[\n
//   ]~b]user\n{content}[e~[\n
//   ]~b]ai\n<think>\n{reasoning}\n</think>\n\n{content}
//     \n<minimax:tool_call>\n<invoke name="f">\n<parameter name="k">v</parameter>\n</invoke>\n
//     </minimax:tool_call>[e~[\n
//   ]~b]tool\n<response>{result}</response>...[e~[\n
//   ]~b]ai\n<think>\n                      <- generation prompt: the model starts thinking
//
// Reasoning is kept only for assistant turns after the last user message. A system
// message after the first is dropped; a tool result needs the latest assistant turn to
// have called a tool. Parameter values: strings as written, anything else as JSON.
#include <optional>
#include <string>
#include <utility>

#include "model/chat_format_parts.h"
#include "model/chat_text.h"

namespace tandem::chat_parts {
namespace {

using namespace chat_text;

constexpr std::string_view kCallBegin = "<minimax:tool_call>", kCallEnd = "</minimax:tool_call>";
constexpr std::string_view kToolsIntro =
    "\n\n# Tools\nYou may call one or more tools to assist with the user query.\n"
    "Here are the tools available in JSONSchema format:\n\n<tools>\n";
constexpr std::string_view kToolsOutro =
    "</tools>\n\nWhen making tool calls, use XML format to invoke tools and pass parameters:\n"
    "\n<minimax:tool_call>\n<invoke name=\"tool-name-1\">\n"
    "<parameter name=\"param-key-1\">param-value-1</parameter>\n"
    "<parameter name=\"param-key-2\">param-value-2</parameter>\n...\n</invoke>\n</minimax:tool_call>";

Status RenderToolCalls(const ChatMessage& m, size_t index, std::string& out) {
  out += '\n';
  out += kCallBegin;
  out += '\n';
  for (const ToolCall& call : m.tool_calls) {
    OrderedJson args = OrderedJson::parse(call.arguments, nullptr, /*allow_exceptions=*/false);
    if (!args.is_object()) {
      return Status::Error(
          "minimax-m2 chat: message {}: tool call '{}' has arguments '{}', which are not a JSON object; "
          "this format writes each argument as a parameter, so pass an object such as {{\"key\": \"value\"}}",
          index, call.name, call.arguments);
    }
    Append(out, "<invoke name=\"", call.name, "\">\n");
    for (const auto& [key, value] : args.items()) {
      Append(out, "<parameter name=\"", key, "\">");
      out += value.is_string() ? value.get_ref<const std::string&>() : PythonJsonDumps(value);
      out += "</parameter>\n";
    }
    out += "</invoke>\n";
  }
  out += kCallEnd;
  return Status::Ok();
}

}  // namespace

Expected<std::string> RenderMiniMaxM2(const ChatRequest& request, const std::vector<OrderedJson>& tools) {
  const std::vector<ChatMessage>& msgs = request.messages;
  const bool system_first = !msgs.empty() && msgs[0].role == ChatRole::kSystem;
  const size_t first = system_first ? 1 : 0;  // conversation_messages = messages[first:]

  // Index (within the conversation) of the last user message; reasoning after it is kept.
  long last_user = -1;
  for (size_t i = first; i < msgs.size(); ++i) {
    if (msgs[i].role == ChatRole::kUser) last_user = static_cast<long>(i - first);
  }

  std::string out = "]~!b[]~b]system\n";
  out += system_first && !msgs[0].content.empty() ? msgs[0].content : "You are a helpful assistant.";
  if (!tools.empty()) {
    out += kToolsIntro;
    for (const OrderedJson& tool : tools) {
      Append(out, "<tool>", PythonJsonDumps(tool["function"]), "</tool>\n");
    }
    out += kToolsOutro;
  }
  out += "[e~[\n";

  bool last_assistant_called_tool = false;
  for (size_t i = first; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    const long conv_index = static_cast<long>(i - first);
    switch (m.role) {
      case ChatRole::kSystem: break;  // only a leading system message is rendered
      case ChatRole::kUser: Append(out, "]~b]user\n", m.content, "[e~[\n"); break;
      case ChatRole::kAssistant: {
        out += "]~b]ai\n";
        std::string_view content = m.content;
        std::string_view reasoning;
        if (m.reasoning_content) {
          reasoning = *m.reasoning_content;
        } else if (Contains(m.content, "</think>")) {
          reasoning = StripNewlines(AfterLast(StripNewlines(BeforeFirst(m.content, "</think>")), "<think>"));
          content = StripNewlines(AfterLast(m.content, "</think>"));
        }
        if (!reasoning.empty() && conv_index > last_user) {
          out += "<think>\n";
          out += reasoning;
          out += "\n</think>\n\n";
        }
        out += content;
        if (!m.tool_calls.empty()) TANDEM_TRY(RenderToolCalls(m, i, out));
        last_assistant_called_tool = !m.tool_calls.empty();
        out += "[e~[\n";
        break;
      }
      case ChatRole::kTool:
        if (!last_assistant_called_tool) {
          return Status::Error(
              "minimax-m2 chat: message {} is a tool result, but the latest assistant message before it "
              "has no tool call: put the assistant's tool_calls before their results",
              i);
        }
        if (i == first || msgs[i - 1].role != ChatRole::kTool) out += "]~b]tool";
        Append(out, "\n<response>", m.content, "</response>");
        if (i + 1 == msgs.size() || msgs[i + 1].role != ChatRole::kTool) out += "[e~[\n";
        break;
    }
  }
  if (request.add_generation_prompt) out += "]~b]ai\n<think>\n";
  return out;
}

namespace {

// A parameter's declared JSON-schema type in the tools, "" when not declared.
std::string DeclaredType(const std::vector<OrderedJson>& tools, std::string_view fn, std::string_view param) {
  for (const OrderedJson& tool : tools) {
    auto f_it = tool.find("function");
    if (f_it == tool.end() || !f_it->is_object()) continue;
    const OrderedJson& f = *f_it;
    auto f_name = f.find("name");
    if (f_name == f.end() || !f_name->is_string() || f_name->get_ref<const std::string&>() != fn) continue;
    auto params = f.find("parameters");
    if (params == f.end() || !params->is_object()) return "";
    auto props = params->find("properties");
    if (props == params->end() || !props->is_object()) return "";
    auto p = props->find(std::string(param));
    if (p == props->end() || !p->is_object()) return "";
    auto type = p->find("type");
    return type != p->end() && type->is_string() ? type->get<std::string>() : "";
  }
  return "";
}

// `<name attr="value">` at the start of `s` (after whitespace): the value and the length
// consumed, or nullopt.
std::optional<std::pair<std::string, size_t>> ReadOpenTag(std::string_view s, std::string_view tag) {
  size_t start = s.find_first_not_of(" \t\n\r");
  if (start == std::string_view::npos) return std::nullopt;
  std::string prefix;
  Append(prefix, "<", tag, " name=\"");
  if (s.substr(start).substr(0, prefix.size()) != prefix) return std::nullopt;
  size_t value_begin = start + prefix.size();
  size_t quote = s.find("\">", value_begin);
  if (quote == std::string_view::npos) return std::nullopt;
  return std::make_pair(std::string(s.substr(value_begin, quote - value_begin)), quote + 2);
}

// One <invoke name="f">...</invoke> block's body into a call; false when malformed.
bool ReadInvoke(std::string_view name, std::string_view body, const std::vector<OrderedJson>& tools, ToolCall& call) {
  OrderedJson args = OrderedJson::object();
  size_t pos = 0;
  while (!StripSpace(body.substr(pos)).empty()) {
    auto open = ReadOpenTag(body.substr(pos), "parameter");
    if (!open) return false;
    size_t value_begin = pos + open->second;
    size_t close = body.find("</parameter>", value_begin);
    if (close == std::string_view::npos) return false;
    std::string_view raw = body.substr(value_begin, close - value_begin);
    OrderedJson value;
    if (DeclaredType(tools, name, open->first) == "string") {
      value = std::string(raw);
    } else {
      value = OrderedJson::parse(raw, nullptr, /*allow_exceptions=*/false);
      if (value.is_discarded()) value = std::string(raw);
    }
    args[open->first] = std::move(value);
    pos = close + std::string_view("</parameter>").size();
  }
  call.name = std::string(name);
  call.arguments = args.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  return true;
}

// The calls of one <minimax:tool_call> block's body; false when malformed.
bool ReadCallBlock(std::string_view body, const std::vector<OrderedJson>& tools, std::vector<ToolCall>& calls) {
  size_t pos = 0;
  size_t before = calls.size();
  while (!StripSpace(body.substr(pos)).empty()) {
    auto open = ReadOpenTag(body.substr(pos), "invoke");
    if (!open || open->first.empty()) return false;
    size_t inner = pos + open->second;
    size_t close = body.find("</invoke>", inner);
    if (close == std::string_view::npos) return false;
    ToolCall call;
    if (!ReadInvoke(open->first, body.substr(inner, close - inner), tools, call)) return false;
    calls.push_back(std::move(call));
    pos = close + std::string_view("</invoke>").size();
  }
  return calls.size() > before;
}

}  // namespace

void ReadMiniMaxM2ToolCalls(std::string_view text, const std::vector<OrderedJson>& tools, ChatMessage& out) {
  std::string content;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find(kCallBegin, pos);
    if (open == std::string_view::npos) break;
    size_t body_begin = open + kCallBegin.size();
    size_t close = text.find(kCallEnd, body_begin);
    if (close == std::string_view::npos) break;  // unterminated: the rest stays content
    size_t end = close + kCallEnd.size();
    std::vector<ToolCall> calls;
    if (ReadCallBlock(text.substr(body_begin, close - body_begin), tools, calls)) {
      content += text.substr(pos, open - pos);
      for (ToolCall& c : calls) out.tool_calls.push_back(std::move(c));
    } else {
      content += text.substr(pos, end - pos);  // malformed: kept as written
    }
    pos = end;
  }
  if (pos < text.size()) content += text.substr(pos);
  out.content = std::string(StripSpace(content));
}

}  // namespace tandem::chat_parts
