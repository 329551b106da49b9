// What the public API serves: one model on a rank group, with its tokenizer and chat
// format, and the turn-taking that lets up to the group's parallel() requests run at once
// (decoded together), the others waiting in arrival order. Knows nothing of gRPC:
// api_service.h translates to and from it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "coordinator/completion.h"
#include "coordinator/rank_group.h"
#include "model/chat_format.h"
#include "model/tokenizer.h"

namespace tandem {

// One rank of the served model, for ClusterInfo.
struct ServedNode {
  int rank = 0;
  std::string host;
  std::string backend;          // "cpu", "cuda"
  uint64_t memory_bytes = 0;    // of the machine it runs on
  uint64_t weight_bytes = 0;    // held
  uint64_t token_bytes = 0;     // read per decoded token
  uint64_t kv_bytes = 0;        // its KV cache
  std::string shard;            // "KV heads 0-1, FFN rows 0-127, vocab 0-75967"
};

// Requests served so far (all of them, whatever their end).
struct ServedCounts {
  int64_t requests = 0;
  int64_t completion_tokens = 0;  // tokens sampled, end tokens included
  int64_t cancelled = 0;
};

class ServedModel {
 public:
  static constexpr int64_t kDefaultMaxTokens = 256;

  // Takes the rank group; reads the tokenizer and chat format from the leader's metadata.
  // model_path: what ClusterInfo names as the model.
  static Expected<std::unique_ptr<ServedModel>> Create(std::unique_ptr<RankGroup> ranks, std::string model_path);

  // The API's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no penalties,
  // a random seed.
  static SamplingParams DefaultSampling();

  const Tokenizer& tokenizer() const { return tokenizer_; }
  ChatFormat chat_format() const { return chat_format_; }
  const std::string& model_path() const { return model_path_; }
  // The model's, which a re-plan of the group does not change.
  const ModelConfig& config() const { return config_; }
  int64_t n_ctx() const { return n_ctx_; }
  RankGroup& ranks() { return *ranks_; }

  // max_tokens for a request that names none: the default, cut to what the context
  // leaves after the prompt (at least 1, so that a prompt too long still gets refused).
  int64_t DefaultMaxTokens(int64_t prompt_tokens);

  // Refuses what the engine would refuse, before any rank hears of the request:
  // sampling values (the sampler's message), an empty prompt, token ids outside the
  // vocabulary, max_tokens below 1, prompt + max_tokens beyond the context.
  Status Check(const CompletionRequest& request);

  // Runs `request` when a slot of the model is free. While it waits its turn, `abandoned` is asked
  // every few milliseconds; when it says true, Run returns without generating, with
  // finish reason kCancelled and no tokens. Engine failures come back as errors.
  Expected<CompletionResult> Run(const CompletionRequest& request, const std::function<bool()>& abandoned,
                                 const DeltaCallback& on_delta);

  // What each rank holds and reads, and the planner's description of it.
  std::vector<ServedNode> Nodes();
  std::string PlanText();

  ServedCounts counts() const;
  int waiting() const { return waiting_.load(); }
  bool busy() const { return running_.load() > 0; }
  int running() const { return running_.load(); }

 private:
  ServedModel(std::unique_ptr<RankGroup> ranks, const Engine& leader, Tokenizer tokenizer, ChatFormat format,
              std::string model_path);
  bool AcquireTurn(const std::function<bool()>& abandoned);
  void ReleaseTurn();

  std::unique_ptr<RankGroup> ranks_;
  const ModelConfig config_;
  const int64_t n_ctx_;
  Tokenizer tokenizer_;
  ChatFormat chat_format_;
  std::string model_path_;

  // Turns go in arrival order: each request draws a ticket; the next ticket starts when
  // fewer than parallel() requests run, skipping requests that gave up while waiting.
  std::mutex turn_mutex_;
  std::condition_variable turn_free_;
  uint64_t next_ticket_ = 0;     // the next arrival's
  uint64_t serving_ticket_ = 0;  // whose turn is next
  std::set<uint64_t> abandoned_;  // tickets whose requests left the queue
  std::atomic<int> running_{0};
  std::atomic<int> waiting_{0};

  mutable std::mutex counts_mutex_;
  ServedCounts counts_;
};

}  // namespace tandem
