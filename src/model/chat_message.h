// The messages of a chat, as an OpenAI-style API hands them in and as the model's output
// is parsed back: roles, text, the reasoning of past assistant turns, tool calls and
// tool results. JSON payloads (tool definitions, tool-call arguments) stay JSON text here;
// the formats parse them when they render.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tandem {

enum class ChatRole { kSystem, kUser, kAssistant, kTool };

std::string_view ChatRoleName(ChatRole role);  // "system", "user", "assistant", "tool"
Expected<ChatRole> ParseChatRole(std::string_view name);

// One call of a tool by the assistant. `arguments` is JSON text: normally an object
// ({"city": "Paris"}); a value that does not parse as an object is rendered as written
// by formats that allow it (Qwen3) and is an error for those that need the fields
// (MiniMax-M2).
struct ToolCall {
  std::string id;  // optional; no template renders it
  std::string name;
  std::string arguments;
};

struct ChatMessage {
  ChatRole role = ChatRole::kUser;
  std::string content;
  // Reasoning of an assistant turn, without the <think> tags. Unset: the templates look
  // for <think>...</think> inside `content` instead. Set (even to ""): used as given.
  std::optional<std::string> reasoning_content;
  std::vector<ToolCall> tool_calls;  // assistant only
  std::string tool_call_id;          // tool results: the call they answer (not rendered)
  std::string name;                  // tool results: the tool's name (not rendered)
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  // Tool definitions, each a JSON object as OpenAI takes them:
  // {"type": "function", "function": {"name": ..., "description": ..., "parameters": {...}}}.
  // A bare function object ({"name": ..., "parameters": ...}) is wrapped into that form.
  // Key order is kept: the templates print the definitions as written.
  std::vector<std::string> tools;
  bool add_generation_prompt = true;  // end with the opening of the assistant's turn
  bool enable_thinking = true;        // Qwen3: false adds an empty <think></think> block
};

}  // namespace tandem
