// Chat formats: how a model's chat template turns messages into prompt text, written by
// hand per format (no Jinja interpreter) and checked byte for byte against Jinja2
// rendering the real templates (tests/oracle/chat_oracle.py). Also which format a GGUF
// uses, and reading the model's output back into content, reasoning and tool calls.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "model/arch.h"
#include "model/chat_message.h"
#include "model/gguf_value.h"

namespace tandem {

enum class ChatFormat {
  kQwen3,      // ChatML (<|im_start|>role ... <|im_end|>), <think>, <tool_call>{json}</tool_call>
  kMiniMaxM2,  // ]~b]role ... [e~[, <think>, <minimax:tool_call><invoke ...>
};

std::string_view ChatFormatName(ChatFormat format);  // "qwen3", "minimax-m2"
Expected<ChatFormat> ParseChatFormat(std::string_view name);

// The format of a chat template's text, recognised by markers only that family's
// templates have; a template of neither family is an error that names what it starts with.
Expected<ChatFormat> ChatFormatOfTemplate(std::string_view chat_template);

// The format an architecture's models use (qwen3moe -> qwen3, minimax-m2 -> minimax-m2).
ChatFormat DefaultChatFormat(Arch arch);

// From GGUF metadata: tokenizer.chat_template when present (unknown template: error),
// else by general.architecture.
Expected<ChatFormat> DetectChatFormat(const GgufMetadata& md);

// The prompt text the model's template renders for `request`. Errors name the message
// and what is wrong with it (bad tool JSON, a tool result without a tool call, ...).
Expected<std::string> RenderChat(ChatFormat format, const ChatRequest& request);

// True when the rendered generation prompt leaves the model inside a <think> block, so
// its output starts with reasoning and has only the closing </think> (MiniMax-M2).
bool GenerationStartsInReasoning(ChatFormat format, const ChatRequest& request);

// The model's output for `request` (the text generated after RenderChat's prompt, stop
// strings removed) as an assistant message: reasoning_content (set when a think block was
// seen), content, tool_calls (arguments as compact JSON text). The request's tools type
// MiniMax-M2 parameters (a "string" parameter stays text even if it looks like JSON).
// Never fails: a malformed tool call is left in the content as written.
ChatMessage ParseChatOutput(ChatFormat format, const ChatRequest& request, std::string_view output);

}  // namespace tandem
