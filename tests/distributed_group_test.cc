// The distributed group end to end in one process: a coordinator's registry on a gRPC
// port, two workers (each its own gRPC service and UCX worker) that join it, bring-up
// (plan, LoadShard, Start, UCX wire-up), requests through the collective only, and
// shutdown. The tokens must equal those of the in-process cluster of the same ranks.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <future>
#include <memory>
#include <span>
#include <thread>

#include "coordinator/distributed_group.h"
#include "coordinator/local_cluster.h"
#include "model/model_fingerprint.h"
#include "sharding_models.h"
#include "worker/worker_node.h"

namespace tandem {
namespace {

using testing::ModelPath;

struct Coordinator {
  std::unique_ptr<WorkerRegistry> registry;
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

Coordinator StartCoordinator(const std::string& model_path) {
  Coordinator c;
  auto model = GgufModel::Open(model_path);
  EXPECT_TRUE(model.ok()) << model.status().message();
  c.registry = std::make_unique<WorkerRegistry>(ModelFingerprint(*model));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(c.registry.get());
  c.server = builder.BuildAndStart();
  c.address = "127.0.0.1:" + std::to_string(port);
  return c;
}

WorkerNodeOptions WorkerFor(const std::string& coordinator, const std::string& model_path) {
  WorkerNodeOptions o;
  o.coordinator = coordinator;
  o.worker.model_path = model_path;
  o.worker.engine.n_threads = 1;
  o.worker.ucx.timeout = std::chrono::seconds(10);
  o.join_timeout = std::chrono::seconds(10);
  return o;
}

EngineOptions SmallEngine() {
  EngineOptions engine;
  engine.n_ctx = 64;
  engine.n_threads = 1;
  return engine;
}

// The greedy tokens of the in-process cluster of `ranks` ranks: what every group must give.
std::vector<int32_t> LocalTokens(const std::string& path, int ranks, std::span<const int32_t> prompt, int64_t n) {
  std::vector<int32_t> tokens;
  auto local = LocalCluster::Load(path, ranks, SmallEngine());
  EXPECT_TRUE(local.ok()) << local.status().message();
  if (!local.ok()) return tokens;
  const auto stats = (*local)->Generate(prompt, n, SamplingParams{}, {}, [&](int32_t t) {
    tokens.push_back(t);
    return true;
  });
  EXPECT_TRUE(stats.ok()) << stats.status().message();
  return tokens;
}

DistributedOptions GroupOptions() {
  DistributedOptions options;
  options.engine = SmallEngine();
  options.ucx.timeout = std::chrono::seconds(10);
  options.worker_threads = 1;
  options.wait = std::chrono::seconds(10);
  return options;
}

TEST(DistributedGroupTest, ThreeRanksOverUcxMatchTheInProcessCluster) {
  const std::string path = ModelPath(Arch::kMiniMaxM2, Recipe::kQ8_0);
  SamplingParams greedy;
  std::vector<int32_t> prompt = {9707, 11, 1879, 0, 576, 374, 264};
  const std::vector<int32_t> want = LocalTokens(path, 3, prompt, 12);
  ASSERT_EQ(want.size(), 12u);

  Coordinator coordinator = StartCoordinator(path);
  auto w1 = WorkerNode::Start(WorkerFor(coordinator.address, path));
  ASSERT_TRUE(w1.ok()) << w1.status().message();
  auto w2 = WorkerNode::Start(WorkerFor(coordinator.address, path));
  ASSERT_TRUE(w2.ok()) << w2.status().message();
  auto group = DistributedGroup::BringUp(path, *coordinator.registry, 2, GroupOptions());
  ASSERT_TRUE(group.ok()) << group.status().message();
  EXPECT_EQ((*group)->planned().plan.size(), 3u);
  for (int request = 0; request < 2; ++request) {
    std::vector<int32_t> got;
    auto stats = (*group)->Generate(prompt, 12, greedy, {}, [&](int32_t t) {
      got.push_back(t);
      return true;
    });
    ASSERT_TRUE(stats.ok()) << stats.status().message();
    EXPECT_EQ(got, want) << "request " << request;
  }
  // A refused request leaves the group working.
  SamplingParams bad;
  bad.min_p = 3;
  EXPECT_FALSE((*group)->Generate(prompt, 4, bad, {}, [](int32_t) { return true; }).ok());
  EXPECT_TRUE((*group)->Generate(prompt, 4, greedy, {}, [](int32_t) { return true; }).ok());

  group->reset();  // shuts the followers down and stops the workers
  EXPECT_TRUE((*w1)->Run().ok());
  EXPECT_TRUE((*w2)->Run().ok());
  coordinator.server->Shutdown();
}

// A lost worker and --replan: the group plans the model again over the worker left, serves
// the same tokens, and frees the replaced rank-0 engine (its KV cache and model map) once
// no caller holds it: leaders replaced by re-plans do not pile up.
TEST(DistributedGroupTest, ReplanFreesTheReplacedLeader) {
  const std::string path = ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0);
  SamplingParams greedy;
  const std::vector<int32_t> prompt = {9707, 11, 1879, 0, 576};
  const std::vector<int32_t> want = LocalTokens(path, 1, prompt, 8);
  ASSERT_EQ(want.size(), 8u);
  Coordinator coordinator = StartCoordinator(path);
  auto w1 = WorkerNode::Start(WorkerFor(coordinator.address, path));
  ASSERT_TRUE(w1.ok()) << w1.status().message();
  auto w2 = WorkerNode::Start(WorkerFor(coordinator.address, path));
  ASSERT_TRUE(w2.ok()) << w2.status().message();
  DistributedOptions options = GroupOptions();
  options.silence = std::chrono::seconds(1);
  options.replan = std::chrono::milliseconds(500);
  auto group = DistributedGroup::BringUp(path, *coordinator.registry, 2, options);
  ASSERT_TRUE(group.ok()) << group.status().message();
  auto generate = [&] {
    std::vector<int32_t> got;
    const auto stats = (*group)->Generate(prompt, 8, greedy, {}, [&](int32_t t) {
      got.push_back(t);
      return true;
    });
    EXPECT_TRUE(stats.ok()) << stats.status().message();
    return got;
  };
  EXPECT_EQ(generate(), want) << "3 ranks";
  const std::weak_ptr<Engine> first_leader = (*group)->leader();

  Status w1_run = Status::Error("worker 1 still running");
  std::thread serve_w1([&] { w1_run = (*w1)->Run(); });  // worker 1 rejoins when the group fails
  w2->reset();                                            // worker 2 is gone
  std::string why;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!((*group)->serving(why) && (*group)->planned().plan.size() == 2u) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ((*group)->planned().plan.size(), 2u) << "no re-plan over 2 ranks within 30 s: " << why;
  EXPECT_TRUE(first_leader.expired()) << "the leader replaced by the re-plan is still alive";
  EXPECT_EQ(generate(), want) << "2 ranks after the re-plan";

  group->reset();
  serve_w1.join();
  EXPECT_TRUE(w1_run.ok()) << w1_run.message();
  coordinator.server->Shutdown();
}

// Rank 0 failing to load (here: its model does not fit the asked context) is an error from
// BringUp with the reason, not a crash while the half-built group is dropped.
TEST(DistributedGroupTest, ALeaderThatCannotLoadIsAnError) {
  const std::string path = ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0);
  Coordinator coordinator = StartCoordinator(path);
  DistributedOptions options = GroupOptions();
  options.engine.n_ctx = int64_t{1} << 40;
  auto group = DistributedGroup::BringUp(path, *coordinator.registry, 1, options);
  ASSERT_FALSE(group.ok());
  EXPECT_NE(group.status().message().find("rank 0"), std::string::npos) << group.status().message();
  coordinator.server->Shutdown();
}

// --collective nccl joins GPUs only: a group with a CPU rank is refused with the fix, and
// auto picks UCX for it (the 3-rank test above runs auto on CPU ranks).
TEST(DistributedGroupTest, NcclOnCpuRanksIsRefusedWithTheFix) {
  const std::string path = ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0);
  Coordinator coordinator = StartCoordinator(path);
  auto w = WorkerNode::Start(WorkerFor(coordinator.address, path));
  ASSERT_TRUE(w.ok()) << w.status().message();
  DistributedOptions options = GroupOptions();
  options.collective = GroupCollective::kNccl;
  auto group = DistributedGroup::BringUp(path, *coordinator.registry, 1, options);
  ASSERT_FALSE(group.ok());
  EXPECT_NE(group.status().message().find("--collective ucx"), std::string::npos) << group.status().message();
  EXPECT_FALSE(ParseGroupCollective("mpi").ok());
  coordinator.server->Shutdown();
}

// A worker whose coordinator stops answering heartbeats leaves its group by itself (with
// NCCL, its kernels would otherwise wait on the GPU for rank 0 forever): here rank 0 still
// runs, only the control plane is gone, and the group's own watch is off (silence of a
// minute), so only the worker's heartbeat check can end its wait for the next request.
TEST(DistributedGroupTest, AWorkerLeavesWhenTheCoordinatorStopsAnswering) {
  const std::string path = ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0);
  Coordinator coordinator = StartCoordinator(path);
  WorkerNodeOptions worker = WorkerFor(coordinator.address, path);
  worker.coordinator_silence = std::chrono::milliseconds(1000);
  worker.join_timeout = std::chrono::milliseconds(1000);
  auto w = WorkerNode::Start(worker);
  ASSERT_TRUE(w.ok()) << w.status().message();
  DistributedOptions options = GroupOptions();
  options.silence = std::chrono::minutes(1);
  auto group = DistributedGroup::BringUp(path, *coordinator.registry, 1, options);
  ASSERT_TRUE(group.ok()) << group.status().message();

  std::promise<Status> ran;
  std::future<Status> run = ran.get_future();
  std::thread serve([&] { ran.set_value((*w)->Run()); });
  coordinator.server->Shutdown();
  const bool left = run.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  group->reset();  // stops a worker that did not leave, so the thread ends either way
  serve.join();
  ASSERT_TRUE(left) << "the worker still waited on its group 20 s after the coordinator stopped answering";
  const Status st = run.get();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(coordinator.address), std::string::npos) << st.message();
}

// A group left idle for longer than its collective's timeout still serves: the workers
// wait for the next request as long as their coordinator answers heartbeats.
TEST(DistributedGroupTest, AGroupIdleLongerThanTheCollectiveTimeoutStillServes) {
  const std::string path = ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0);
  Coordinator coordinator = StartCoordinator(path);
  WorkerNodeOptions worker = WorkerFor(coordinator.address, path);
  worker.worker.ucx.timeout = std::chrono::milliseconds(500);
  auto w = WorkerNode::Start(worker);
  ASSERT_TRUE(w.ok()) << w.status().message();
  DistributedOptions options = GroupOptions();
  options.ucx.timeout = std::chrono::milliseconds(500);
  auto group = DistributedGroup::BringUp(path, *coordinator.registry, 1, options);
  ASSERT_TRUE(group.ok()) << group.status().message();
  const std::vector<int32_t> prompt = {9707, 11, 1879};
  auto generate = [&] { return (*group)->Generate(prompt, 4, SamplingParams{}, {}, [](int32_t) { return true; }); };
  auto first = generate();
  EXPECT_TRUE(first.ok()) << first.status().message();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto after_idle = generate();
  EXPECT_TRUE(after_idle.ok()) << after_idle.status().message();
  group->reset();
  EXPECT_TRUE((*w)->Run().ok());
  coordinator.server->Shutdown();
}

TEST(DistributedGroupTest, WorkersWithAnotherModelAreRefused) {
  Coordinator coordinator = StartCoordinator(ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0));
  auto w = WorkerNode::Start(WorkerFor(coordinator.address, ModelPath(Arch::kMiniMaxM2, Recipe::kQ8_0)));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("another model"), std::string::npos) << w.status().message();
  auto none = coordinator.registry->TakeWorkers(1, std::chrono::milliseconds(300));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("0 of 1 workers"), std::string::npos) << none.status().message();
  coordinator.server->Shutdown();
}

TEST(DistributedGroupTest, NoCoordinatorIsAClearError) {
  WorkerNodeOptions o = WorkerFor("127.0.0.1:1", ModelPath(Arch::kQwen3Moe, Recipe::kQ8_0));
  o.join_timeout = std::chrono::seconds(1);
  auto w = WorkerNode::Start(o);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("127.0.0.1:1"), std::string::npos) << w.status().message();
}

}  // namespace
}  // namespace tandem
