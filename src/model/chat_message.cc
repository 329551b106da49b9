#include "model/chat_message.h"

namespace tandem {

std::string_view ChatRoleName(ChatRole role) {
  switch (role) {
    case ChatRole::kSystem: return "system";
    case ChatRole::kUser: return "user";
    case ChatRole::kAssistant: return "assistant";
    case ChatRole::kTool: return "tool";
  }
  return "?";
}

Expected<ChatRole> ParseChatRole(std::string_view name) {
  for (ChatRole r : {ChatRole::kSystem, ChatRole::kUser, ChatRole::kAssistant, ChatRole::kTool}) {
    if (ChatRoleName(r) == name) return r;
  }
  return Status::Error("unknown chat role '{}': use system, user, assistant or tool", name);
}

}  // namespace tandem
