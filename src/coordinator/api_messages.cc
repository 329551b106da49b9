#include "coordinator/api_messages.h"

#include <fmt/format.h>

#include "model/utf8.h"

namespace tandem {
namespace {

}  // namespace

Status CheckUtf8Field(std::string_view text, std::string_view field) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Check c = CheckUtf8(text, pos);
    if (c.status != Utf8Status::kComplete) {
      return Status::Error("{} is not valid UTF-8 (byte {} of {}): send text encoded as UTF-8", field, pos,
                           text.size());
    }
    pos += c.length;
  }
  return Status::Ok();
}

namespace {

Expected<std::vector<std::string>> Stops(const google::protobuf::RepeatedPtrField<std::string>& stop) {
  for (int i = 0; i < stop.size(); ++i) TANDEM_TRY(CheckUtf8Field(stop[i], fmt::format("stop[{}]", i)));
  return std::vector<std::string>(stop.begin(), stop.end());
}

// max_tokens as asked (0: the default for this prompt); negative values are left for
// ServedModel::Check to refuse.
int64_t MaxTokens(ServedModel& model, int32_t asked, size_t prompt_tokens) {
  return asked != 0 ? asked : model.DefaultMaxTokens(static_cast<int64_t>(prompt_tokens));
}

}  // namespace

SamplingParams SamplingFromProto(const v1::Sampling& s) {
  SamplingParams p = ServedModel::DefaultSampling();
  if (s.has_temperature()) p.temperature = s.temperature();
  if (s.has_top_k()) p.top_k = s.top_k();
  if (s.has_top_p()) p.top_p = s.top_p();
  if (s.has_min_p()) p.min_p = s.min_p();
  if (s.has_repetition_penalty()) p.repetition_penalty = s.repetition_penalty();
  if (s.has_presence_penalty()) p.presence_penalty = s.presence_penalty();
  if (s.has_penalty_last_n()) p.penalty_last_n = s.penalty_last_n();
  if (s.has_seed()) p.seed = s.seed();
  return p;
}

Expected<CompletionRequest> CompletionFromGenerate(ServedModel& model, const v1::GenerateRequest& request) {
  CompletionRequest out;
  if (!request.prompt().empty() && request.prompt_tokens_size() > 0) {
    return Status::Error("the request has both a prompt text and prompt_tokens: give one of them");
  }
  if (!request.prompt().empty()) {
    TANDEM_TRY(CheckUtf8Field(request.prompt(), "prompt"));
    auto ids = model.tokenizer().Encode(request.prompt());
    if (!ids.ok()) return ids.status().WithContext("tokenizing the prompt");
    out.prompt = std::move(ids).value();
  } else {
    out.prompt.assign(request.prompt_tokens().begin(), request.prompt_tokens().end());
  }
  out.max_tokens = MaxTokens(model, request.max_tokens(), out.prompt.size());
  out.sampling = SamplingFromProto(request.sampling());
  TANDEM_ASSIGN_OR_RETURN(out.stop, Stops(request.stop()));
  return out;
}

Expected<ChatRequest> ChatFromProto(const v1::ChatRequest& request) {
  if (request.messages_size() == 0) return Status::Error("the chat has no messages: give at least one");
  ChatRequest chat;
  for (int i = 0; i < request.messages_size(); ++i) {
    const v1::ChatMessage& m = request.messages(i);
    auto role = ParseChatRole(m.role());
    if (!role.ok()) return role.status().WithContext(fmt::format("message {}", i));
    TANDEM_TRY(CheckUtf8Field(m.content(), fmt::format("messages[{}].content", i)));
    TANDEM_TRY(CheckUtf8Field(m.reasoning_content(), fmt::format("messages[{}].reasoning_content", i)));
    for (int j = 0; j < m.tool_calls_size(); ++j) {
      TANDEM_TRY(CheckUtf8Field(m.tool_calls(j).arguments_json(),
                                fmt::format("messages[{}].tool_calls[{}].arguments_json", i, j)));
    }
    ChatMessage& message = chat.messages.emplace_back();
    message.role = *role;
    message.content = m.content();
    // Empty means unset in proto3: the templates then look for <think> in the content.
    if (!m.reasoning_content().empty()) message.reasoning_content = m.reasoning_content();
    for (const v1::ToolCall& call : m.tool_calls()) {
      ToolCall& c = message.tool_calls.emplace_back();
      c.name = call.name();
      c.arguments = call.arguments_json();
    }
    message.tool_call_id = m.tool_call_id();
    message.name = m.name();
  }
  for (int i = 0; i < request.tools_json_size(); ++i) {
    TANDEM_TRY(CheckUtf8Field(request.tools_json(i), fmt::format("tools_json[{}]", i)));
  }
  chat.tools.assign(request.tools_json().begin(), request.tools_json().end());
  chat.add_generation_prompt = true;
  chat.enable_thinking = request.has_enable_thinking() ? request.enable_thinking() : true;
  return chat;
}

Expected<CompletionRequest> CompletionFromChat(ServedModel& model, const ChatRequest& chat,
                                               const v1::ChatRequest& request) {
  auto text = RenderChat(model.chat_format(), chat);
  if (!text.ok()) return text.status().WithContext("rendering the chat");
  auto ids = model.tokenizer().Encode(*text);
  if (!ids.ok()) return ids.status().WithContext("tokenizing the rendered chat");
  CompletionRequest out;
  out.prompt = std::move(ids).value();
  out.max_tokens = MaxTokens(model, request.max_tokens(), out.prompt.size());
  out.sampling = SamplingFromProto(request.sampling());
  TANDEM_ASSIGN_OR_RETURN(out.stop, Stops(request.stop()));
  return out;
}

v1::FinishReason FinishReasonToProto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return v1::FINISH_REASON_LENGTH;
    case FinishReason::kEnd: return v1::FINISH_REASON_END;
    case FinishReason::kStopString: return v1::FINISH_REASON_STOP_STRING;
    case FinishReason::kCancelled: return v1::FINISH_REASON_CANCELLED;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

void FillFinal(const CompletionResult& result, v1::GenerateReply::Final& final) {
  final.set_finish_reason(FinishReasonToProto(result.finish_reason));
  v1::Usage* usage = final.mutable_usage();
  usage->set_prompt_tokens(static_cast<int32_t>(result.stats.prompt_tokens));
  usage->set_completion_tokens(static_cast<int32_t>(result.stats.generated_tokens));
  usage->set_time_to_first_token_ms(result.time_to_first_token_ms);
  usage->set_prefill_tokens_per_second(result.stats.prefill_tok_s());
  usage->set_decode_tokens_per_second(result.stats.decode_tok_s());
}

void FillChatAnswer(const ChatMessage& answer, v1::GenerateReply::Final& final) {
  final.set_content(answer.content);
  final.set_reasoning_content(answer.reasoning_content.value_or(""));
  for (const ToolCall& call : answer.tool_calls) {
    v1::ToolCall* c = final.add_tool_calls();
    c->set_name(call.name);
    c->set_arguments_json(call.arguments);
  }
}

}  // namespace tandem
