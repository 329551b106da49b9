// Internal to the chat formats: the per-format renderers and tool-call readers that
// chat_format.cc and chat_output.cc dispatch to (src/model/chat_<format>.cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/chat_message.h"
#include "model/python_json.h"

namespace tandem::chat_parts {

// The request's tool definitions parsed, bare function objects wrapped into
// {"type": "function", "function": ...}.
Expected<std::vector<OrderedJson>> ParseTools(const std::vector<std::string>& tools);

Expected<std::string> RenderQwen3(const ChatRequest& request, const std::vector<OrderedJson>& tools);
Expected<std::string> RenderMiniMaxM2(const ChatRequest& request, const std::vector<OrderedJson>& tools);

// Moves the well-formed tool calls in `text` (the output after its reasoning) into
// out.tool_calls and the rest, trimmed, into out.content.
void ReadQwen3ToolCalls(std::string_view text, ChatMessage& out);
void ReadMiniMaxM2ToolCalls(std::string_view text, const std::vector<OrderedJson>& tools, ChatMessage& out);

}  // namespace tandem::chat_parts
