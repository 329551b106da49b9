// BenchNccl with CUDA and NCCL: a one-rank communicator on device 0.
#include <cuda_runtime_api.h>

#include <chrono>
#include <random>

#include "bench/comm/nccl_runs.h"
#include "kernels/cuda/cuda_check.h"
#include "net/nccl_collective.h"

namespace tandem::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Owns the stream, the communicator and the buffers of one run.
class NcclBench {
 public:
  ~NcclBench() {
    group_.reset();  // before its stream
    if (start_ != nullptr) cudaEventDestroy(start_);
    if (stop_ != nullptr) cudaEventDestroy(stop_);
    cudaFree(data_);
    cudaFree(recv_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  Status Init(int64_t max_floats) {
    TANDEM_CUDA_TRY(cudaSetDevice(0));
    TANDEM_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    TANDEM_CUDA_TRY(cudaEventCreate(&start_));
    TANDEM_CUDA_TRY(cudaEventCreate(&stop_));
    TANDEM_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&data_), static_cast<size_t>(max_floats) * sizeof(float)));
    TANDEM_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&recv_), static_cast<size_t>(max_floats) * sizeof(float)));
    std::vector<float> values(static_cast<size_t>(max_floats));
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(0.5f, 2.0f);
    for (float& x : values) x = dist(rng);
    TANDEM_CUDA_TRY(cudaMemcpy(data_, values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice));
    TANDEM_ASSIGN_OR_RETURN(NcclUniqueId id, MakeNcclUniqueId());
    TANDEM_ASSIGN_OR_RETURN(group_, NcclCollective::Connect(id, 0, 1, stream_));
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
    TANDEM_TRY(Call(message));  // NCCL sets up on first use, outside the capture
    TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
    cudaGraph_t graph = nullptr;
    TANDEM_CUDA_TRY(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal));
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
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  float* data_ = nullptr;
  float* recv_ = nullptr;
  std::unique_ptr<NcclCollective> group_;
};

Status Run(const std::vector<CommMessage>& messages, const TimingOptions& timing, int graph_calls,
           BackendResult& eager, BackendResult& graph) {
  int64_t max_floats = 1;
  for (const CommMessage& m : messages) max_floats = std::max(max_floats, (m.bytes() + 3) / 4);
  NcclBench bench;
  TANDEM_TRY(bench.Init(max_floats));
  for (const CommMessage& message : messages) {
    TANDEM_ASSIGN_OR_RETURN(Latency e, bench.TimeEager(message, timing));
    TANDEM_ASSIGN_OR_RETURN(Latency g, bench.TimeGraph(message, timing, graph_calls));
    eager.per_message.push_back(e);
    graph.per_message.push_back(g);
  }
  return Status::Ok();
}

}  // namespace

std::vector<BackendResult> BenchNccl(const std::vector<CommMessage>& messages, const TimingOptions& timing,
                                     int graph_calls) {
  BackendResult eager{"nccl eager", 1, {}, {}};
  BackendResult graph{"nccl graph", 1, {}, {}};
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    eager.skipped = graph.skipped = "no CUDA device";
    return {eager, graph};
  }
  if (Status st = Run(messages, timing, graph_calls, eager, graph); !st.ok()) {
    eager.skipped = graph.skipped = "failed: " + st.message();
    eager.per_message.clear();
    graph.per_message.clear();
  }
  return {eager, graph};
}

}  // namespace tandem::bench
