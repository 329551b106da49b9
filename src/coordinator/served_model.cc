#include "coordinator/served_model.h"

#include <algorithm>
#include <chrono>
#include <random>

#include <fmt/format.h>

namespace tandem {

ServedModel::ServedModel(std::unique_ptr<RankGroup> ranks, const Engine& leader, Tokenizer tokenizer,
                         ChatFormat format, std::string model_path)
    : ranks_(std::move(ranks)),
      config_(leader.config()),
      n_ctx_(leader.n_ctx()),
      tokenizer_(std::move(tokenizer)),
      chat_format_(format),
      model_path_(std::move(model_path)) {}

Expected<std::unique_ptr<ServedModel>> ServedModel::Create(std::unique_ptr<RankGroup> ranks, std::string model_path) {
  if (ranks == nullptr) return Status::Error("no rank group to serve");
  const std::shared_ptr<Engine> leader = ranks->leader();
  const GgufMetadata& md = leader->metadata();
  auto tokenizer = Tokenizer::FromMetadata(md);
  if (!tokenizer.ok()) return tokenizer.status().WithContext(fmt::format("{}: tokenizer", model_path));
  auto format = DetectChatFormat(md);
  if (!format.ok()) return format.status().WithContext(fmt::format("{}: chat format", model_path));
  return std::unique_ptr<ServedModel>(
      new ServedModel(std::move(ranks), *leader, std::move(tokenizer).value(), *format, std::move(model_path)));
}

SamplingParams ServedModel::DefaultSampling() {
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.repetition_penalty = 1.0f;
  p.presence_penalty = 0.0f;
  p.penalty_last_n = 64;
  std::random_device entropy;
  p.seed = (uint64_t{entropy()} << 32) | entropy();
  return p;
}

int64_t ServedModel::DefaultMaxTokens(int64_t prompt_tokens) {
  return std::max<int64_t>(1, std::min(kDefaultMaxTokens, n_ctx() + 1 - prompt_tokens));
}

Status ServedModel::Check(const CompletionRequest& request) {
  if (Status st = ValidateSampling(request.sampling); !st.ok()) return st.WithContext("sampling");
  if (request.prompt.empty()) return Status::Error("the prompt is empty: give some text or at least one token id");
  const int64_t n_vocab = config().shape.n_vocab;
  for (size_t i = 0; i < request.prompt.size(); ++i) {
    if (request.prompt[i] < 0 || request.prompt[i] >= n_vocab) {
      return Status::Error("prompt token {} (id {}) is outside the vocabulary of {} tokens", i, request.prompt[i],
                           n_vocab);
    }
  }
  if (request.max_tokens < 1) return Status::Error("max_tokens {} must be at least 1", request.max_tokens);
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt + request.max_tokens > n_ctx() + 1) {
    return Status::Error(
        "a prompt of {} tokens + max_tokens {} do not fit the context of {} positions: shorten the prompt, ask for "
        "fewer tokens (at most {} here) or serve with a larger --ctx",
        n_prompt, request.max_tokens, n_ctx(), std::max<int64_t>(0, n_ctx() + 1 - n_prompt));
  }
  return Status::Ok();
}

bool ServedModel::AcquireTurn(const std::function<bool()>& abandoned) {
  std::unique_lock lock(turn_mutex_);
  const uint64_t ticket = next_ticket_++;
  ++waiting_;
  const int parallel = static_cast<int>(ranks_->parallel());
  // Moves the next turn past `ticket` and the tickets that gave up after it.
  auto pass_turn = [&] {
    serving_ticket_ = ticket + 1;
    while (abandoned_.erase(serving_ticket_) > 0) ++serving_ticket_;
    turn_free_.notify_all();
  };
  while (serving_ticket_ != ticket || running_.load() >= parallel) {
    if (abandoned && abandoned()) {
      --waiting_;
      if (serving_ticket_ == ticket) {
        pass_turn();
      } else {
        abandoned_.insert(ticket);
      }
      return false;
    }
    // gRPC cancellation signals no condition variable: look again every few ms.
    turn_free_.wait_for(lock, std::chrono::milliseconds(5));
  }
  --waiting_;
  ++running_;
  pass_turn();  // the next ticket may start too, when a slot is free
  return true;
}

void ServedModel::ReleaseTurn() {
  {
    std::lock_guard lock(turn_mutex_);
    --running_;
  }
  turn_free_.notify_all();
}

Expected<CompletionResult> ServedModel::Run(const CompletionRequest& request, const std::function<bool()>& abandoned,
                                            const DeltaCallback& on_delta) {
  if (!AcquireTurn(abandoned)) {
    std::lock_guard lock(counts_mutex_);
    ++counts_.requests;
    ++counts_.cancelled;
    CompletionResult gave_up;
    gave_up.finish_reason = FinishReason::kCancelled;
    return gave_up;
  }
  auto result = Complete(*ranks_, tokenizer_, request, on_delta);
  {
    std::lock_guard lock(counts_mutex_);
    ++counts_.requests;
    if (result.ok()) {
      counts_.completion_tokens += static_cast<int64_t>(result->tokens.size());
      if (result->finish_reason == FinishReason::kCancelled) ++counts_.cancelled;
    }
  }
  ReleaseTurn();
  return result;
}

ServedCounts ServedModel::counts() const {
  std::lock_guard lock(counts_mutex_);
  return counts_;
}

std::vector<ServedNode> ServedModel::Nodes() {
  const PlannedShards& planned = ranks_->planned();
  const std::shared_ptr<Engine> leader = ranks_->leader();
  const ModelShape& s = config_.shape;
  const std::vector<RankNode> where = ranks_->nodes();
  std::vector<ServedNode> nodes;
  for (size_t r = 0; r < planned.plan.size(); ++r) {
    const Shard& shard = planned.plan[r];
    ServedNode n;
    n.rank = static_cast<int>(r);
    if (r < where.size()) {
      n.host = where[r].host;
      n.backend = where[r].backend;
      n.memory_bytes = where[r].memory_bytes;
    }
    if (r < planned.loads.size()) {
      n.weight_bytes = planned.loads[r].weight_bytes;
      n.token_bytes = planned.loads[r].token_bytes;
    }
    // Every rank's KV cache holds its own KV heads for the same positions.
    n.kv_bytes = leader->backend().kv_bytes() / static_cast<uint64_t>(std::max<int64_t>(1, leader->shard().n_kv_head)) *
                 static_cast<uint64_t>(shard.n_kv_head);
    n.shard = ShardSummary(shard, s);
    nodes.push_back(std::move(n));
  }
  return nodes;
}

std::string ServedModel::PlanText() {
  const PlannedShards& planned = ranks_->planned();
  // One rank holding the whole model reads the replicated bytes once and every split
  // tensor whole: the ranks' split parts add up to it.
  uint64_t whole = planned.loads.empty() ? 0 : planned.loads[0].replicated_token_bytes;
  for (const RankLoad& l : planned.loads) whole += l.token_bytes - l.replicated_token_bytes;
  if (whole == 0) whole = 1;
  return DescribePlan(config_, planned, whole);
}

}  // namespace tandem
