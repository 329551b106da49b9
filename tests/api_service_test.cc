// The public gRPC API (coordinator/api_service.h) served in-process on a free port over a
// 2-rank LocalCluster of a small synthetic model: streamed tokens equal the cluster's own,
// text equals their decoding, stop strings, errors with precise codes, cancellation and
// deadlines that stop generation, Tokenize, Chat parsing, Health, ClusterInfo. Then the
// CLI: `tandem serve` as a subprocess, `tandem generate` against it and against nothing.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "coordinator/api_client.h"
#include "coordinator/api_service.h"
#include "coordinator/local_cluster.h"
#include "coordinator/served_model.h"
#include "model/utf8.h"
#include "synth_options.h"

namespace tandem {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kCtx = 512;
const char* const kPrompt = "Hello, world! The quick brown fox jumps over the lazy dog.";

// A served model with its server and a client, for one test suite.
struct Served {
  std::string path;
  std::unique_ptr<ServedModel> model;
  std::unique_ptr<ApiServer> server;
  std::unique_ptr<ApiClient> client;

  ~Served() {
    if (server) server->Shutdown(milliseconds(1000));
    server.reset();
    model.reset();
    if (!path.empty()) std::filesystem::remove(path);
  }
};

std::unique_ptr<Served> Serve(Arch arch, int ranks, int64_t parallel = 1) {
  auto s = std::make_unique<Served>();
  s->path = (std::filesystem::temp_directory_path() /
             fmt::format("tandem_api_{}_{}.gguf", ArchName(arch), getpid()))
                .string();
  auto synth = SynthModel::Build(testing::SmallOptions(arch, Recipe::kQ8_0));
  EXPECT_TRUE(synth.ok()) << synth.status().message();
  if (!synth.ok()) return nullptr;
  EXPECT_TRUE(synth->WriteFile(s->path, false).ok());
  EngineOptions options;
  options.n_ctx = kCtx;
  options.n_threads = 2;
  options.n_seq = parallel;
  auto cluster = LocalCluster::Load(s->path, ranks, options);
  EXPECT_TRUE(cluster.ok()) << cluster.status().message();
  if (!cluster.ok()) return nullptr;
  auto model = ServedModel::Create(std::move(cluster).value(), s->path);
  EXPECT_TRUE(model.ok()) << model.status().message();
  if (!model.ok()) return nullptr;
  s->model = std::move(model).value();
  auto server = ApiServer::Start(*s->model, "127.0.0.1:0");
  EXPECT_TRUE(server.ok()) << server.status().message();
  if (!server.ok()) return nullptr;
  s->server = std::move(server).value();
  EXPECT_GT(s->server->port(), 0);
  s->client = std::make_unique<ApiClient>(s->server->address());
  return s;
}

v1::Sampling Greedy() {
  v1::Sampling s;
  s.set_temperature(0);
  return s;
}

v1::GenerateRequest GreedyRequest(int32_t max_tokens) {
  v1::GenerateRequest r;
  r.set_prompt(kPrompt);
  r.set_max_tokens(max_tokens);
  *r.mutable_sampling() = Greedy();
  return r;
}

// Everything a stream sent, in order.
struct Recorded {
  StreamOutcome outcome;
  std::string text;
  std::vector<int32_t> tokens;
  std::vector<std::string> kinds;  // "delta" / "final" in arrival order (final: from outcome)
};

Recorded Record(ApiClient& client, const v1::GenerateRequest& request, milliseconds timeout = milliseconds(0),
                int cancel_after = -1) {
  Recorded r;
  int seen = 0;
  r.outcome = client.Generate(request, timeout, [&](const v1::GenerateReply::Delta& d) {
    r.text += d.text();
    r.tokens.insert(r.tokens.end(), d.tokens().begin(), d.tokens().end());
    r.kinds.push_back("delta");
    return cancel_after < 0 || ++seen < cancel_after;
  });
  return r;
}

// One stream read by hand: checks that exactly one final message arrives, and last.
void ExpectFinalLast(v1::Tandem::Stub& stub, const v1::GenerateRequest& request) {
  grpc::ClientContext context;
  auto reader = stub.Generate(&context, request);
  v1::GenerateReply reply;
  int deltas = 0, finals = 0;
  bool after_final = false;
  while (reader->Read(&reply)) {
    if (finals > 0) after_final = true;
    if (reply.has_delta()) ++deltas;
    if (reply.has_final()) ++finals;
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(finals, 1);
  EXPECT_FALSE(after_final) << "a message came after the final one";
  EXPECT_GT(deltas, 0);
}

class ApiServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { served_ = Serve(Arch::kQwen3Moe, 2).release(); }
  static void TearDownTestSuite() {
    delete served_;
    served_ = nullptr;
  }
  void SetUp() override {
    if (served_ == nullptr) GTEST_SKIP() << "the model could not be served";
  }
  ServedModel& model() { return *served_->model; }
  ApiClient& client() { return *served_->client; }

  static Served* served_;
};
Served* ApiServiceTest::served_ = nullptr;

TEST_F(ApiServiceTest, GreedyStreamEqualsTheClustersTokensAndTheirText) {
  const int32_t n = 24;
  Recorded got = Record(client(), GreedyRequest(n));
  ASSERT_TRUE(got.outcome.ok()) << got.outcome.status.error_message();

  // The same request straight on the rank group.
  auto prompt = model().tokenizer().Encode(kPrompt);
  ASSERT_TRUE(prompt.ok());
  const auto& eog_set = model().tokenizer().end_of_generation();
  std::vector<int32_t> eog(eog_set.begin(), eog_set.end()), want;
  SamplingParams greedy;
  auto stats = model().ranks().Generate(*prompt, n, greedy, eog, [&](int32_t t) {
    want.push_back(t);
    return true;
  });
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  if (!want.empty() && model().tokenizer().IsEndOfGeneration(want.back())) want.pop_back();  // not streamed
  EXPECT_EQ(got.tokens, want);
  EXPECT_EQ(got.text, ToValidUtf8(model().tokenizer().Decode(got.tokens, /*render_special=*/false)));

  const v1::GenerateReply::Final& final = *got.outcome.final;
  const v1::Usage& usage = final.usage();
  EXPECT_EQ(usage.prompt_tokens(), static_cast<int32_t>(prompt->size()));
  EXPECT_EQ(usage.completion_tokens(), stats->generated_tokens);
  EXPECT_GT(usage.time_to_first_token_ms(), 0);
  EXPECT_GT(usage.prefill_tokens_per_second(), 0);
  EXPECT_GT(usage.decode_tokens_per_second(), 0);
  EXPECT_EQ(final.finish_reason(), stats->stopped_at_eog ? v1::FINISH_REASON_END : v1::FINISH_REASON_LENGTH);
  ExpectFinalLast(client().stub(), GreedyRequest(8));
}

TEST_F(ApiServiceTest, TokenIdPromptsGiveTheSameStream) {
  auto prompt = model().tokenizer().Encode(kPrompt);
  ASSERT_TRUE(prompt.ok());
  v1::GenerateRequest by_ids = GreedyRequest(8);
  by_ids.clear_prompt();
  for (int32_t id : *prompt) by_ids.add_prompt_tokens(id);
  Recorded a = Record(client(), GreedyRequest(8)), b = Record(client(), by_ids);
  ASSERT_TRUE(a.outcome.ok() && b.outcome.ok()) << b.outcome.status.error_message();
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.text, b.text);
}

TEST_F(ApiServiceTest, StopStringsEndTheTextBeforeThem) {
  Recorded whole = Record(client(), GreedyRequest(48));
  ASSERT_TRUE(whole.outcome.ok());
  // A stop string from the middle of the greedy text: its first few characters after
  // the first quarter.
  const std::string& text = whole.text;
  ASSERT_GE(text.size(), 8u) << "the greedy text is too short to cut a stop string from";
  size_t at = text.size() / 4;
  while (at < text.size() && (static_cast<uint8_t>(text[at]) & 0xC0) == 0x80) ++at;  // a character boundary
  size_t end = at + 1;
  while (end < text.size() && (end - at < 3 || (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80)) ++end;
  const std::string stop = text.substr(at, end - at);
  v1::GenerateRequest request = GreedyRequest(48);
  request.add_stop(stop);
  Recorded got = Record(client(), request);
  ASSERT_TRUE(got.outcome.ok()) << got.outcome.status.error_message();
  EXPECT_EQ(got.outcome.final->finish_reason(), v1::FINISH_REASON_STOP_STRING);
  EXPECT_EQ(got.text, text.substr(0, text.find(stop))) << "stop string '" << stop << "'";
  EXPECT_EQ(got.text.find(stop), std::string::npos);
}

// A bad request's status: its code and message.
grpc::Status Refusal(ApiClient& client, const v1::GenerateRequest& request) {
  return client.Generate(request, milliseconds(10000), nullptr).status;
}

TEST_F(ApiServiceTest, BadRequestsAreInvalidArguments) {
  v1::GenerateRequest top_p = GreedyRequest(4);
  top_p.mutable_sampling()->set_top_p(2);
  grpc::Status st = Refusal(client(), top_p);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("top-p"), std::string::npos) << st.error_message();

  v1::GenerateRequest temperature = GreedyRequest(4);
  temperature.mutable_sampling()->set_temperature(-1);
  st = Refusal(client(), temperature);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("temperature"), std::string::npos) << st.error_message();

  v1::GenerateRequest empty = GreedyRequest(4);
  empty.clear_prompt();
  st = Refusal(client(), empty);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("prompt is empty"), std::string::npos) << st.error_message();

  v1::GenerateRequest invalid_utf8 = GreedyRequest(4);
  invalid_utf8.set_prompt(std::string("caf\xc3 \xff\xfe bar"));
  st = Refusal(client(), invalid_utf8);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("prompt is not valid UTF-8 (byte 3"), std::string::npos) << st.error_message();
  v1::GenerateRequest bad_stop = GreedyRequest(4);
  bad_stop.add_stop("ok");
  bad_stop.add_stop(std::string("\xe2\x82"));
  st = Refusal(client(), bad_stop);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("stop[1]"), std::string::npos) << st.error_message();

  v1::GenerateRequest both = GreedyRequest(4);
  both.add_prompt_tokens(1);
  st = Refusal(client(), both);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("prompt_tokens"), std::string::npos) << st.error_message();

  v1::GenerateRequest too_long = GreedyRequest(kCtx);
  st = Refusal(client(), too_long);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("context"), std::string::npos) << st.error_message();

  v1::GenerateRequest long_prompt = GreedyRequest(0);
  long_prompt.clear_prompt();
  for (int i = 0; i < kCtx + 10; ++i) long_prompt.add_prompt_tokens(100 + i);
  st = Refusal(client(), long_prompt);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("context"), std::string::npos) << st.error_message();

  v1::GenerateRequest bad_id = GreedyRequest(4);
  bad_id.clear_prompt();
  bad_id.add_prompt_tokens(1);
  bad_id.add_prompt_tokens(-5);
  st = Refusal(client(), bad_id);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("vocabulary"), std::string::npos) << st.error_message();

  v1::GenerateRequest negative = GreedyRequest(-3);
  st = Refusal(client(), negative);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("max_tokens"), std::string::npos) << st.error_message();

  // The server still serves.
  EXPECT_TRUE(Record(client(), GreedyRequest(2)).outcome.ok());
}

TEST_F(ApiServiceTest, UnsetMaxTokensFitsTheContext) {
  Recorded got = Record(client(), GreedyRequest(0));
  ASSERT_TRUE(got.outcome.ok()) << got.outcome.status.error_message();
  EXPECT_LE(got.outcome.final->usage().completion_tokens(), ServedModel::kDefaultMaxTokens);
}

TEST_F(ApiServiceTest, ACancelledStreamStopsGenerating) {
  const int32_t n = 400;
  const ServedCounts before = model().counts();
  Recorded cancelled = Record(client(), GreedyRequest(n), milliseconds(0), /*cancel_after=*/3);
  EXPECT_EQ(cancelled.outcome.status.error_code(), grpc::StatusCode::CANCELLED)
      << cancelled.outcome.status.error_message();
  // The next request waits for the model, so the cancelled one has ended when it runs.
  const auto start = std::chrono::steady_clock::now();
  Recorded next = Record(client(), GreedyRequest(4));
  const double next_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(next.outcome.ok()) << next.outcome.status.error_message();
  const ServedCounts after = model().counts();
  EXPECT_EQ(after.cancelled, before.cancelled + 1);
  EXPECT_EQ(after.requests, before.requests + 2);
  const int64_t stopped_after = after.completion_tokens - before.completion_tokens -
                                next.outcome.final->usage().completion_tokens();
  EXPECT_GE(stopped_after, 3);
  EXPECT_LT(stopped_after, 40) << "the cancelled generation went on after its client left";
  // The next request did not wait for the other 400 tokens.
  const double token_s = 1.0 / std::max(1.0, next.outcome.final->usage().decode_tokens_per_second());
  EXPECT_LT(next_s, 0.5 * n * token_s + 2.0);
}

TEST_F(ApiServiceTest, DeadlinesStopGenerating) {
  const ServedCounts before = model().counts();
  Recorded late = Record(client(), GreedyRequest(400), milliseconds(300));
  EXPECT_EQ(late.outcome.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << late.outcome.status.error_message();
  EXPECT_LT(late.tokens.size(), 400u);
  ASSERT_TRUE(Record(client(), GreedyRequest(2)).outcome.ok());
  const ServedCounts after = model().counts();
  EXPECT_EQ(after.cancelled, before.cancelled + 1);
  EXPECT_LT(after.completion_tokens - before.completion_tokens, 400);
}

TEST_F(ApiServiceTest, AWaitingRequestHonoursItsDeadline) {
  // One long request holds the model; another with a short deadline gives up waiting.
  std::atomic<bool> release{false};
  std::thread holder([&] {
    int seen = 0;
    client().Generate(GreedyRequest(400), milliseconds(30000), [&](const v1::GenerateReply::Delta&) {
      return !(++seen >= 2 && release.load());
    });
  });
  for (int i = 0; i < 10000 && !model().busy(); ++i) std::this_thread::sleep_for(milliseconds(1));
  if (!model().busy()) {
    release = true;
    holder.join();
    FAIL() << "the first request never started";
  }
  Recorded waiting = Record(client(), GreedyRequest(2), milliseconds(200));
  EXPECT_EQ(waiting.outcome.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << waiting.outcome.status.error_message();
  EXPECT_TRUE(waiting.tokens.empty());
  release = true;
  holder.join();
  EXPECT_TRUE(Record(client(), GreedyRequest(2)).outcome.ok());
}

// Waiting requests take their turns in arrival order, skipping one that gave up.
TEST_F(ApiServiceTest, WaitingRequestsAreServedInArrivalOrder) {
  std::atomic<bool> release{false};
  std::thread holder([&] {
    client().Generate(GreedyRequest(400), milliseconds(30000),
                      [&](const v1::GenerateReply::Delta&) { return !release.load(); });
  });
  for (int i = 0; i < 10000 && !model().busy(); ++i) std::this_thread::sleep_for(milliseconds(1));
  ASSERT_TRUE(model().busy());
  std::mutex mu;
  std::vector<int> started;  // request numbers in the order their first delta came
  auto request = [&](int number, milliseconds timeout) {
    bool first = true;
    client().Generate(GreedyRequest(2), timeout, [&](const v1::GenerateReply::Delta&) {
      if (first) {
        std::lock_guard lock(mu);
        started.push_back(number);
        first = false;
      }
      return true;
    });
  };
  std::vector<std::thread> queued;
  for (int number = 1; number <= 4; ++number) {
    // Request 2 gives up while it waits; the others wait as long as it takes.
    queued.emplace_back(request, number, number == 2 ? milliseconds(100) : milliseconds(30000));
    for (int i = 0; i < 1000 && model().waiting() < number; ++i) std::this_thread::sleep_for(milliseconds(1));
  }
  std::this_thread::sleep_for(milliseconds(300));  // request 2's deadline passes in the queue
  release = true;
  holder.join();
  for (auto& t : queued) t.join();
  EXPECT_EQ(started, (std::vector<int>{1, 3, 4}));
}

// Served with --parallel 2: three streams at once, two of them decoded together and the
// third waiting for a slot; each gets the tokens its request gets alone.
TEST(ApiServiceParallel, StreamsAtOnceDecodeTogether) {
  std::unique_ptr<Served> served = Serve(Arch::kQwen3Moe, 2, 2);
  ASSERT_TRUE(served);
  ServedModel& model = *served->model;
  EXPECT_EQ(model.ranks().parallel(), 2);
  v1::ClusterInfoReply info;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(served->client->stub().ClusterInfo(&context, v1::ClusterInfoRequest(), &info).ok());
  }
  EXPECT_EQ(info.parallel_sequences(), 2);
  const std::vector<std::string> prompts = {kPrompt, "Once upon a time", "1, 2, 3, 4,"};
  const std::vector<int32_t> lengths = {48, 24, 24};
  std::vector<std::vector<int32_t>> want(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    v1::GenerateRequest r = GreedyRequest(lengths[i]);
    r.set_prompt(prompts[i]);
    Recorded alone = Record(*served->client, r);
    ASSERT_TRUE(alone.outcome.ok()) << alone.outcome.status.error_message();
    want[i] = alone.tokens;
  }
  std::atomic<bool> done{false};
  std::atomic<int> most_running{0};
  std::thread monitor([&] {
    while (!done.load()) {
      most_running = std::max(most_running.load(), model.running());
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  std::vector<Recorded> got(prompts.size());
  std::vector<std::thread> streams;
  for (size_t i = 0; i < prompts.size(); ++i) {
    streams.emplace_back([&, i] {
      v1::GenerateRequest r = GreedyRequest(lengths[i]);
      r.set_prompt(prompts[i]);
      ApiClient own(served->server->address());
      got[i] = Record(own, r, milliseconds(60000));
    });
  }
  for (auto& t : streams) t.join();
  done = true;
  monitor.join();
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(got[i].outcome.ok()) << i << ": " << got[i].outcome.status.error_message();
    EXPECT_EQ(got[i].tokens, want[i]) << "stream " << i;
  }
  EXPECT_EQ(most_running.load(), 2) << "at most --parallel requests run at once, and they did";
}

TEST_F(ApiServiceTest, TokenizeEqualsTheTokenizer) {
  for (bool plain : {false, true}) {
    v1::TokenizeRequest request;
    request.set_text("<|im_start|>user\nhi there, 世界<|im_end|>");
    request.set_plain_text(plain);
    v1::TokenizeReply reply;
    grpc::ClientContext context;
    ASSERT_TRUE(client().stub().Tokenize(&context, request, &reply).ok());
    EncodeOptions options;
    options.parse_special = !plain;
    auto want = model().tokenizer().Encode(request.text(), options);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(std::vector<int32_t>(reply.tokens().begin(), reply.tokens().end()), *want) << "plain " << plain;
    ASSERT_EQ(reply.pieces_size(), reply.tokens_size());
    std::string joined;
    for (const std::string& p : reply.pieces()) joined += p;
    EXPECT_EQ(joined, request.text());
  }
}

// A chat's final message is its streamed text parsed by the chat format. Returns the
// final message.
v1::GenerateReply::Final ExpectChatParsed(Served& s, const v1::ChatRequest& request, ChatRequest chat) {
  std::string streamed;
  StreamOutcome got = s.client->Chat(request, milliseconds(60000), [&](const v1::GenerateReply::Delta& d) {
    streamed += d.text();
    return true;
  });
  EXPECT_TRUE(got.ok()) << got.status.error_message();
  if (!got.ok()) return {};
  const ChatMessage want = ParseChatOutput(s.model->chat_format(), chat, streamed);
  EXPECT_EQ(got.final->content(), want.content);
  EXPECT_EQ(got.final->reasoning_content(), want.reasoning_content.value_or(""));
  EXPECT_EQ(got.final->tool_calls_size(), static_cast<int>(want.tool_calls.size()));
  for (size_t i = 0; i < want.tool_calls.size() && i < static_cast<size_t>(got.final->tool_calls_size()); ++i) {
    EXPECT_EQ(got.final->tool_calls(static_cast<int>(i)).name(), want.tool_calls[i].name);
  }
  // The prompt is the rendered template.
  auto rendered = RenderChat(s.model->chat_format(), chat);
  auto ids = s.model->tokenizer().Encode(rendered.ok() ? *rendered : "");
  EXPECT_TRUE(rendered.ok() && ids.ok());
  EXPECT_EQ(got.final->usage().prompt_tokens(), static_cast<int32_t>(ids->size()));
  return *got.final;
}

v1::ChatRequest UserChat(const std::string& text) {
  v1::ChatRequest r;
  v1::ChatMessage* m = r.add_messages();
  m->set_role("user");
  m->set_content(text);
  r.set_max_tokens(16);
  *r.mutable_sampling() = Greedy();
  return r;
}

ChatRequest UserChatRequest(const std::string& text, bool thinking = true) {
  ChatRequest chat;
  chat.messages.push_back({ChatRole::kUser, text, std::nullopt, {}, "", ""});
  chat.enable_thinking = thinking;
  return chat;
}

TEST_F(ApiServiceTest, ChatParsesTheAnswer) {
  EXPECT_EQ(model().chat_format(), ChatFormat::kQwen3);
  ExpectChatParsed(*served_, UserChat("What is 2 + 2?"), UserChatRequest("What is 2 + 2?"));
  v1::ChatRequest no_thinking = UserChat("What is 2 + 2?");
  no_thinking.set_enable_thinking(false);
  ExpectChatParsed(*served_, no_thinking, UserChatRequest("What is 2 + 2?", false));

  v1::ChatRequest bad_role = UserChat("hi");
  bad_role.mutable_messages(0)->set_role("wizard");
  grpc::Status st = client().Chat(bad_role, milliseconds(10000), nullptr).status;
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("wizard"), std::string::npos) << st.error_message();

  v1::ChatRequest none = UserChat("hi");
  none.clear_messages();
  st = client().Chat(none, milliseconds(10000), nullptr).status;
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ApiServiceTest, HealthSaysServing) {
  v1::HealthReply reply;
  grpc::ClientContext context;
  ASSERT_TRUE(client().stub().Health(&context, v1::HealthRequest(), &reply).ok());
  EXPECT_TRUE(reply.serving());
  EXPECT_EQ(reply.status(), "serving");
}

TEST_F(ApiServiceTest, ClusterInfoDescribesTheRanks) {
  v1::ClusterInfoReply reply;
  grpc::ClientContext context;
  ASSERT_TRUE(client().stub().ClusterInfo(&context, v1::ClusterInfoRequest(), &reply).ok());
  EXPECT_EQ(reply.model(), served_->path);
  EXPECT_EQ(reply.architecture(), "qwen3moe");
  EXPECT_EQ(reply.context_length(), kCtx);
  EXPECT_EQ(reply.parallel_sequences(), 1);
  EXPECT_EQ(reply.collective(), "in-process");
  EXPECT_NE(reply.plan().find("rank 1"), std::string::npos) << reply.plan();
  ASSERT_EQ(reply.nodes_size(), 2);
  for (int r = 0; r < 2; ++r) {
    const v1::NodeInfo& node = reply.nodes(r);
    EXPECT_EQ(node.rank(), r);
    EXPECT_EQ(node.backend(), "cpu");
    EXPECT_FALSE(node.host().empty());
    EXPECT_GT(node.memory_bytes(), 0u);
    EXPECT_GT(node.weight_bytes(), 0u);
    EXPECT_GT(node.token_bytes(), 0u);
    EXPECT_GT(node.kv_bytes(), 0u);
    EXPECT_NE(node.shard().find("KV heads"), std::string::npos) << node.shard();
  }
  EXPECT_EQ(reply.nodes(0).kv_bytes(), reply.nodes(1).kv_bytes());  // 2 KV heads on 2 ranks: one each
}

// MiniMax-M2's generation prompt opens a <think> block: everything the model writes
// before </think> is reasoning.
TEST(ApiServiceMiniMax, ChatThatStartsInReasoning) {
  auto served = Serve(Arch::kMiniMaxM2, 2);
  ASSERT_NE(served, nullptr);
  ASSERT_EQ(served->model->chat_format(), ChatFormat::kMiniMaxM2);
  ChatRequest chat = UserChatRequest("Tell me a story.");
  ASSERT_TRUE(GenerationStartsInReasoning(ChatFormat::kMiniMaxM2, chat));
  v1::GenerateReply::Final final = ExpectChatParsed(*served, UserChat("Tell me a story."), chat);
  // Random weights write no </think>: all 16 tokens are reasoning, none content.
  EXPECT_FALSE(final.reasoning_content().empty());
  EXPECT_TRUE(final.content().empty()) << final.content();
}

// ---- the CLI ------------------------------------------------------------------------

// `tandem ARGS` run to its end: exit code, stdout, stderr.
struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

RunResult RunTandem(const std::string& args) {
  const auto err_path = std::filesystem::temp_directory_path() / fmt::format("tandem_api_err_{}.txt", getpid());
  const std::string command = fmt::format("{} {} 2>{}", TANDEM_BINARY, args, err_path.string());
  RunResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream text;
  text << err.rdbuf();
  r.err = text.str();
  std::filesystem::remove(err_path);
  return r;
}

// `tandem serve` in a child process; stdout read through a pipe.
class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      std::string binary = TANDEM_BINARY;
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }

  // The address after "serving on ", or "" when it did not come within `timeout`.
  std::string WaitForAddress(milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::string seen;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[1024];
      ssize_t n = read(out_, buf, sizeof(buf));
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
      const size_t at = seen.find("serving on ");
      const size_t eol = at == std::string::npos ? at : seen.find('\n', at);
      if (eol != std::string::npos) return seen.substr(at + 11, eol - at - 11);
    }
    return "";
  }

  // Sends `sig` and waits for the exit code (-1: killed or still running after `timeout`).
  int Stop(int sig, milliseconds timeout) {
    kill(pid_, sig);
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

TEST_F(ApiServiceTest, CliServeAndGenerate) {
  ServeProcess serve({"serve", "--model", served_->path, "--listen", "127.0.0.1:0", "--ranks", "2", "--ctx",
                      std::to_string(kCtx), "-t", "2"});
  const std::string address = serve.WaitForAddress(milliseconds(60000));
  ASSERT_FALSE(address.empty()) << "tandem serve did not print 'serving on ADDR'";

  // The same greedy request in-process: the CLI prints its text.
  Recorded want = Record(client(), GreedyRequest(8));
  ASSERT_TRUE(want.outcome.ok());
  RunResult got = RunTandem(fmt::format("generate --server {} --prompt '{}' -n 8 --temp 0", address, kPrompt));
  EXPECT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(got.out, want.text.empty() || want.text.back() == '\n' ? want.text : want.text + "\n");
  EXPECT_NE(got.err.find("completion 8 tokens"), std::string::npos) << got.err;
  EXPECT_NE(got.err.find("decode"), std::string::npos) << got.err;

  RunResult chat = RunTandem(fmt::format("generate --server {} --chat --prompt hello -n 4 --temp 0", address));
  EXPECT_EQ(chat.exit_code, 0) << chat.err;
  EXPECT_NE(chat.err.find("completion 4 tokens"), std::string::npos) << chat.err;

  RunResult bad = RunTandem(fmt::format("generate --server {} --prompt hi --top-p 2", address));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("INVALID_ARGUMENT"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("top-p"), std::string::npos) << bad.err;

  EXPECT_EQ(serve.Stop(SIGTERM, milliseconds(15000)), 0) << "tandem serve did not exit cleanly on SIGTERM";
}

TEST(ApiCli, UnreachableServerIsExplained) {
  RunResult r = RunTandem("generate --server 127.0.0.1:1 --prompt hi --timeout 10");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tandem serve"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem
