// BenchNccl with CUDA and NCCL: a rank per GPU, threads of this process.
#include <cuda_runtime_api.h>

#include <chrono>
#include <random>
#include <functional>
#include <thread>

#include "bench/comm/nccl_runs.h"
#include "kernels/cuda/cuda_check.h"
#include "net/nccl_collective.h"

namespace tandem::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Owns one rank's stream, communicator and buffers.
class NcclBench {
 public:
  NcclBench() = default;
  NcclBench(const NcclBench&) = delete;
  NcclBench& operator=(const NcclBench&) = delete;
  cudaStream_t stream() const { return stream_; }
  void Join(std::unique_ptr<NcclCollective> group) { group_ = std::move(group); }

  ~NcclBench() {
    group_.reset();  // before its stream
    if (start_ != nullptr) cudaEventDestroy(start_);
    if (stop_ != nullptr) cudaEventDestroy(stop_);
    cudaFree(data_);
    cudaFree(recv_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  // On GPU `device`, buffers of max_floats.
  Status Init(int device, int64_t max_floats) {
    device_ = device;
    TANDEM_CUDA_TRY(cudaSetDevice(device));
    TANDEM_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    TANDEM_CUDA_TRY(cudaEventCreate(&start_));
    TANDEM_CUDA_TRY(cudaEventCreate(&stop_));
    TANDEM_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&data_), static_cast<size_t>(max_floats) * sizeof(float)));
    TANDEM_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&recv_), static_cast<size_t>(max_floats) * sizeof(float)));
    std::vector<float> values(static_cast<size_t>(max_floats));
    std::mt19937 rng(1 + static_cast<uint32_t>(device));
    std::uniform_real_distribution<float> dist(0.5f, 2.0f);
    for (float& x : values) x = dist(rng);
    TANDEM_CUDA_TRY(cudaMemcpy(data_, values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice));
    return Status::Ok();
  }

  Status Call(const CommMessage& message) {
    const int64_t counts[] = {message.count};
    switch (message.op) {
      case CommOp::kAllReduce: return group_->AllReduceSum(data_, message.count);
      case CommOp::kGather: return group_->Gather(data_, counts, recv_, 0);
      case CommOp::kBroadcast: return group_->Broadcast(data_, static_cast<uint64_t>(message.count), 0);
    }
    return Status::Error("unknown collective");
  }

  // Each call on its own, waited for: host clock.
  Expected<Latency> TimeEager(const CommMessage& message, const TimingOptions& timing) {
    TANDEM_CUDA_TRY(cudaSetDevice(device_));
    std::vector<double> samples;
    for (int i = 0; i < timing.warmup + timing.iters; ++i) {
      const Clock::time_point t0 = Clock::now();
      TANDEM_TRY(Call(message));
      TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
      const Clock::time_point t1 = Clock::now();
      if (i >= timing.warmup) samples.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    return Percentiles(samples);
  }

  // `calls` calls in one graph; a sample is one replay's device time / calls.
  Expected<Latency> TimeGraph(const CommMessage& message, const TimingOptions& timing, int calls) {
    TANDEM_CUDA_TRY(cudaSetDevice(device_));
    TANDEM_TRY(Call(message));  // NCCL sets up on first use, outside the capture
    TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
    cudaGraph_t graph = nullptr;
    TANDEM_CUDA_TRY(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    Status captured;
    for (int i = 0; i < calls && captured.ok(); ++i) captured = Call(message);
    const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    TANDEM_TRY(captured.WithContext("capturing"));
    TANDEM_CUDA_TRY(ended);
    cudaGraphExec_t exec = nullptr;
    const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    TANDEM_CUDA_TRY(instantiated);
    std::vector<double> samples;
    Status st;
    for (int i = 0; i < timing.warmup / 10 + timing.iters && st.ok(); ++i) {
      cudaError_t err = cudaEventRecord(start_, stream_);
      if (err == cudaSuccess) err = cudaGraphLaunch(exec, stream_);
      if (err == cudaSuccess) err = cudaEventRecord(stop_, stream_);
      if (err == cudaSuccess) err = cudaEventSynchronize(stop_);
      float ms = 0;
      if (err == cudaSuccess) err = cudaEventElapsedTime(&ms, start_, stop_);
      st = CudaStatus(err, "graph replay", __FILE__, __LINE__);
      if (i >= timing.warmup / 10) samples.push_back(1000.0 * ms / calls);
    }
    cudaGraphExecDestroy(exec);
    TANDEM_TRY(st);
    return Percentiles(samples);
  }

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  float* data_ = nullptr;
  float* recv_ = nullptr;
  std::unique_ptr<NcclCollective> group_;
};

// fn(r) on every rank at once (rank 0 on this thread); the first rank's error.
Status OnAllRanks(int ranks, const std::function<Status(int)>& fn) {
  std::vector<Status> results(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 1; r < ranks; ++r) threads.emplace_back([&, r] { results[r] = fn(r); });
  results[0] = fn(0);
  for (auto& t : threads) t.join();
  for (int r = 0; r < ranks; ++r) TANDEM_TRY(results[r].WithContext(fmt::format("rank {}", r)));
  return Status::Ok();
}

// Every rank times every message at once; rank 0's times are reported.
Status Run(const std::vector<CommMessage>& messages, const TimingOptions& timing, int graph_calls, int ranks,
           BackendResult& eager, BackendResult& graph) {
  int64_t max_floats = 1;
  for (const CommMessage& m : messages) max_floats = std::max(max_floats, (m.bytes() + 3) / 4);
  std::vector<NcclBench> benches(static_cast<size_t>(ranks));
  std::vector<int> devices;
  std::vector<cudaStream_t> streams;
  for (int r = 0; r < ranks; ++r) {
    TANDEM_TRY(benches[r].Init(r, max_floats));
    devices.push_back(r);
    streams.push_back(benches[r].stream());
  }
  TANDEM_ASSIGN_OR_RETURN(auto group, NcclCollective::ConnectAll(devices, streams));
  for (int r = 0; r < ranks; ++r) benches[r].Join(std::move(group[r]));
  for (const CommMessage& message : messages) {
    std::vector<Latency> e(static_cast<size_t>(ranks)), g(static_cast<size_t>(ranks));
    TANDEM_TRY(OnAllRanks(ranks, [&](int r) -> Status {
      TANDEM_ASSIGN_OR_RETURN(e[r], benches[r].TimeEager(message, timing));
      return Status::Ok();
    }));
    TANDEM_TRY(OnAllRanks(ranks, [&](int r) -> Status {
      TANDEM_ASSIGN_OR_RETURN(g[r], benches[r].TimeGraph(message, timing, graph_calls));
      return Status::Ok();
    }));
    eager.per_message.push_back(e[0]);
    graph.per_message.push_back(g[0]);
  }
  return Status::Ok();
}

}  // namespace

std::vector<BackendResult> BenchNccl(const std::vector<CommMessage>& messages, const TimingOptions& timing,
                                     int graph_calls, int ranks) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
  // A rank per GPU: NCCL refuses two on one. One GPU still gives NCCL's floor per call.
  const int n = devices >= ranks ? ranks : 1;
  BackendResult eager{"nccl eager", n, {}, {}};
  BackendResult graph{"nccl graph", n, {}, {}};
  if (devices == 0) {
    eager.skipped = graph.skipped = "no CUDA device";
    return {eager, graph};
  }
  if (Status st = Run(messages, timing, graph_calls, n, eager, graph); !st.ok()) {
    eager.skipped = graph.skipped = "failed: " + st.message();
    eager.per_message.clear();
    graph.per_message.clear();
  }
  return {eager, graph};
}

}  // namespace tandem::bench
