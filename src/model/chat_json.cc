#include "model/chat_json.h"

#include <fmt/format.h>

#include "model/python_json.h"

namespace tandem {
namespace {

// The string at `key` of `obj`: absent or null reads as "", anything else but a string
// is an error naming `where`.
Expected<std::string> StringField(const OrderedJson& obj, std::string_view key, std::string_view where) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return Status::Error("{}: \"{}\" must be a string, got {}: pass plain text", where, key, it->type_name());
  }
  return it->get<std::string>();
}

Expected<ToolCall> ToolCallFromJson(const OrderedJson& j, std::string_view where) {
  if (!j.is_object()) return Status::Error("{}: a tool call must be a JSON object", where);
  const OrderedJson* fn = &j;  // {"function": {...}} or the function object itself
  if (auto it = j.find("function"); it != j.end()) fn = &*it;
  if (!fn->is_object()) return Status::Error("{}: \"function\" must be an object with name and arguments", where);
  ToolCall call;
  TANDEM_ASSIGN_OR_RETURN(call.id, StringField(j, "id", where));
  TANDEM_ASSIGN_OR_RETURN(call.name, StringField(*fn, "name", where));
  if (call.name.empty()) return Status::Error("{}: the tool call has no function name: set function.name", where);
  auto args = fn->find("arguments");
  if (args == fn->end() || args->is_null()) {
    call.arguments = "{}";
  } else if (args->is_string()) {
    call.arguments = args->get<std::string>();
  } else {
    call.arguments = args->dump();
  }
  return call;
}

Expected<ChatMessage> MessageFromJson(const OrderedJson& j, size_t index) {
  std::string where = fmt::format("message {}", index);
  if (!j.is_object()) return Status::Error("{}: must be a JSON object with \"role\" and \"content\"", where);
  ChatMessage m;
  TANDEM_ASSIGN_OR_RETURN(std::string role, StringField(j, "role", where));
  auto parsed_role = ParseChatRole(role);
  if (!parsed_role) return parsed_role.status().WithContext(where);
  m.role = *parsed_role;
  TANDEM_ASSIGN_OR_RETURN(m.content, StringField(j, "content", where));
  if (auto it = j.find("reasoning_content"); it != j.end() && !it->is_null()) {
    TANDEM_ASSIGN_OR_RETURN(m.reasoning_content, StringField(j, "reasoning_content", where));
  }
  if (auto it = j.find("tool_calls"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Status::Error("{}: \"tool_calls\" must be an array", where);
    for (size_t k = 0; k < it->size(); ++k) {
      TANDEM_ASSIGN_OR_RETURN(ToolCall call, ToolCallFromJson((*it)[k], fmt::format("{}, tool call {}", where, k)));
      m.tool_calls.push_back(std::move(call));
    }
  }
  TANDEM_ASSIGN_OR_RETURN(m.tool_call_id, StringField(j, "tool_call_id", where));
  TANDEM_ASSIGN_OR_RETURN(m.name, StringField(j, "name", where));
  return m;
}

Expected<bool> BoolField(const OrderedJson& obj, std::string_view key, bool fallback) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return Status::Error("chat request: \"{}\" must be true or false", key);
  return it->get<bool>();
}

}  // namespace

Expected<ChatRequest> ChatRequestFromJson(std::string_view json_text) {
  TANDEM_ASSIGN_OR_RETURN(OrderedJson j, ParseOrderedJson(json_text, "chat request"));
  if (!j.is_object()) return Status::Error("chat request must be a JSON object with \"messages\"");
  ChatRequest r;
  auto msgs = j.find("messages");
  if (msgs == j.end() || !msgs->is_array()) {
    return Status::Error("chat request has no \"messages\" array: pass [{{\"role\": \"user\", \"content\": ...}}]");
  }
  for (size_t i = 0; i < msgs->size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(ChatMessage m, MessageFromJson((*msgs)[i], i));
    r.messages.push_back(std::move(m));
  }
  if (auto tools = j.find("tools"); tools != j.end() && !tools->is_null()) {
    if (!tools->is_array()) return Status::Error("chat request: \"tools\" must be an array of tool definitions");
    for (const OrderedJson& t : *tools) r.tools.push_back(t.dump());
  }
  TANDEM_ASSIGN_OR_RETURN(r.add_generation_prompt, BoolField(j, "add_generation_prompt", true));
  TANDEM_ASSIGN_OR_RETURN(r.enable_thinking, BoolField(j, "enable_thinking", true));
  if (auto kw = j.find("chat_template_kwargs"); kw != j.end() && kw->is_object()) {
    TANDEM_ASSIGN_OR_RETURN(r.enable_thinking, BoolField(*kw, "enable_thinking", r.enable_thinking));
  }
  return r;
}

std::string ChatMessageToJson(const ChatMessage& m) {
  OrderedJson j = OrderedJson::object();
  j["role"] = std::string(ChatRoleName(m.role));
  j["content"] = m.content;
  if (m.reasoning_content) j["reasoning_content"] = *m.reasoning_content;
  if (!m.tool_calls.empty()) {
    OrderedJson calls = OrderedJson::array();
    for (const ToolCall& c : m.tool_calls) {
      OrderedJson call = OrderedJson::object();
      if (!c.id.empty()) call["id"] = c.id;
      call["type"] = "function";
      call["function"] = {{"name", c.name}, {"arguments", c.arguments}};
      calls.push_back(std::move(call));
    }
    j["tool_calls"] = std::move(calls);
  }
  if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) j["name"] = m.name;
  // Model output may hold invalid UTF-8: replace it rather than throw.
  return j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace tandem
