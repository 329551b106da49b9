// Chat requests and messages to and from OpenAI-style JSON, for the API layer and tools:
//   {"messages": [{"role": "assistant", "content": "...", "reasoning_content": "...",
//                  "tool_calls": [{"id": "c1", "type": "function",
//                                  "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
//                 {"role": "tool", "tool_call_id": "c1", "content": "..."}],
//    "tools": [{"type": "function", "function": {...}}],
//    "add_generation_prompt": true, "enable_thinking": true}
// Tool-call arguments may be JSON text (OpenAI) or an object (Hugging Face); "content"
// may be null; "enable_thinking" may also come inside "chat_template_kwargs".
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "model/chat_message.h"

namespace tandem {

Expected<ChatRequest> ChatRequestFromJson(std::string_view json_text);

// An assistant message as OpenAI returns it ("reasoning_content" only when set,
// "tool_calls" only when there are any), compact JSON text.
std::string ChatMessageToJson(const ChatMessage& message);

}  // namespace tandem
