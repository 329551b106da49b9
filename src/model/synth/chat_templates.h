// The real chat templates (tests/data/templates/), embedded at build time.
#pragma once

#include <string_view>

namespace tandem {

extern const std::string_view kChatTemplateQwen3;     // Qwen-Qwen3-0.6B.jinja
extern const std::string_view kChatTemplateMiniMaxM2;  // MiniMax-M2.jinja

}  // namespace tandem
