// Translation between the public API's messages (proto/tandem.proto) and the runtime's
// types: requests into CompletionRequests with the API's defaults filled in, chats into
// ChatRequests, results into the final reply. Errors say which field is wrong.
#pragma once

#include "common/status.h"
#include "coordinator/completion.h"
#include "coordinator/served_model.h"
#include "model/chat_message.h"
#include "tandem.pb.h"

namespace tandem {

// The fields that are set override ServedModel::DefaultSampling().
// Ok when `text` is strict UTF-8; else an error naming `field` and the first bad byte.
Status CheckUtf8Field(std::string_view text, std::string_view field);

SamplingParams SamplingFromProto(const v1::Sampling& sampling);

// Prompt text (tokenized with special tokens parsed) or prompt token ids, not both;
// max_tokens 0 takes the default. Not yet checked against the model (ServedModel::Check).
Expected<CompletionRequest> CompletionFromGenerate(ServedModel& model, const v1::GenerateRequest& request);

// The conversation as the chat formats take it; unknown roles are errors.
Expected<ChatRequest> ChatFromProto(const v1::ChatRequest& request);

// The conversation rendered with the model's chat template and tokenized.
Expected<CompletionRequest> CompletionFromChat(ServedModel& model, const ChatRequest& chat,
                                               const v1::ChatRequest& request);

v1::FinishReason FinishReasonToProto(FinishReason reason);

// Finish reason and usage.
void FillFinal(const CompletionResult& result, v1::GenerateReply::Final& final);

// The parsed assistant message: content, reasoning, tool calls.
void FillChatAnswer(const ChatMessage& answer, v1::GenerateReply::Final& final);

}  // namespace tandem
