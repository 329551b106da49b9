// The boundary probe's host side (boundary_probe.h): lays the step's phases out in one
// buffer, captures each structure's step in a CUDA graph, checks what it read, times it.
#include "kernels/cuda/boundary_probe.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "kernels/cuda/bandwidth_probe.h"
#include "kernels/cuda/boundary_probe_launch.h"
#include "kernels/cuda/cuda_check.h"

namespace tandem {
namespace {

using cuda_detail::BoundaryPhase;

constexpr uint64_t kPhaseAlign = 256;  // bytes: every phase starts on its own cache lines

// Device memory, stream and events of one probe run, released on scope exit.
struct ProbeResources {
  void* buffer = nullptr;                   // the step's weights
  uint32_t* sink = nullptr;                 // n_phases x sink_stride per-block xors
  unsigned long long* barriers = nullptr;   // kBoundaryBarrierWords per persistent structure
  BoundaryPhase* phases = nullptr;          // the persistent kernel's phase table
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  ~ProbeResources() {
    if (start != nullptr) cudaEventDestroy(start);
    if (stop != nullptr) cudaEventDestroy(stop);
    if (stream != nullptr) cudaStreamDestroy(stream);
    cudaFree(buffer);
    cudaFree(sink);
    cudaFree(barriers);
    cudaFree(phases);
  }
};

// One captured step, destroyed on scope exit.
struct StepGraph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ~StepGraph() {
    if (exec != nullptr) cudaGraphExecDestroy(exec);
    if (graph != nullptr) cudaGraphDestroy(graph);
  }
};

struct Layout {
  std::vector<BoundaryPhaseSpan> spans;
  uint64_t buffer_bytes = 0;
  uint64_t bytes_per_step = 0;
};

Layout LayOut(const BoundaryConfig& config) {
  Layout layout;
  uint64_t offset = 0;
  for (int layer = 0; layer < config.layers; ++layer) {
    for (uint64_t bytes : config.phase_bytes) {
      layout.spans.push_back({offset, bytes});
      layout.buffer_bytes = offset + bytes;
      layout.bytes_per_step += bytes;
      offset = (offset + bytes + kPhaseAlign - 1) / kPhaseAlign * kPhaseAlign;
    }
  }
  return layout;
}

// Captures one step (`enqueue` on the stream) into an instantiated graph.
Status Capture(const std::function<cudaError_t(cudaStream_t)>& enqueue, cudaStream_t stream, StepGraph* step) {
  TANDEM_CUDA_TRY(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  const cudaError_t launched = enqueue(stream);
  const cudaError_t ended = cudaStreamEndCapture(stream, &step->graph);
  TANDEM_CUDA_TRY(launched);
  TANDEM_CUDA_TRY(ended);
  TANDEM_CUDA_TRY(cudaGraphInstantiate(&step->exec, step->graph, 0));
  return Status::Ok();
}

// The checksum of one replay: the sink zeroed, the step replayed, each phase's block
// xors folded together (zeroed slots of blocks that did not run change nothing).
Expected<uint64_t> ReplayChecksum(const StepGraph& step, ProbeResources& r, int n_phases, int sink_stride) {
  const size_t sink_words = static_cast<size_t>(n_phases) * static_cast<size_t>(sink_stride);
  TANDEM_CUDA_TRY(cudaMemsetAsync(r.sink, 0, sink_words * sizeof(uint32_t), r.stream));
  TANDEM_CUDA_TRY(cudaGraphLaunch(step.exec, r.stream));
  std::vector<uint32_t> sink(sink_words);
  TANDEM_CUDA_TRY(cudaMemcpyAsync(sink.data(), r.sink, sink_words * sizeof(uint32_t), cudaMemcpyDeviceToHost,
                                  r.stream));
  TANDEM_CUDA_TRY(cudaStreamSynchronize(r.stream));
  uint64_t checksum = BoundaryChecksumStart();
  for (int p = 0; p < n_phases; ++p) {
    uint32_t x = 0;
    for (int b = 0; b < sink_stride; ++b) x ^= sink[static_cast<size_t>(p) * sink_stride + b];
    checksum = BoundaryChecksumAdd(checksum, x);
  }
  return checksum;
}

// Captures the structure's step, takes the checksum of the first warm-up replay, then
// times config.steps replays one by one between events (microseconds: median and least);
// one more replay after them must read the same bytes (the barrier holds across replays).
Status RunStructure(const std::function<cudaError_t(cudaStream_t)>& enqueue, const BoundaryConfig& config,
                    ProbeResources& r, int n_phases, int sink_stride, BoundaryStructureResult* result) {
  StepGraph step;
  TANDEM_TRY(Capture(enqueue, r.stream, &step));
  TANDEM_ASSIGN_OR_RETURN(result->checksum, ReplayChecksum(step, r, n_phases, sink_stride));
  for (int i = 1; i < config.warmup; ++i) TANDEM_CUDA_TRY(cudaGraphLaunch(step.exec, r.stream));
  std::vector<double> us;
  for (int i = 0; i < config.steps; ++i) {
    TANDEM_CUDA_TRY(cudaEventRecord(r.start, r.stream));
    TANDEM_CUDA_TRY(cudaGraphLaunch(step.exec, r.stream));
    TANDEM_CUDA_TRY(cudaEventRecord(r.stop, r.stream));
    TANDEM_CUDA_TRY(cudaEventSynchronize(r.stop));
    float ms = 0;
    TANDEM_CUDA_TRY(cudaEventElapsedTime(&ms, r.start, r.stop));
    us.push_back(1e3 * ms);
  }
  std::sort(us.begin(), us.end());
  result->us_per_step = us[us.size() / 2];
  result->min_us_per_step = us.front();
  TANDEM_ASSIGN_OR_RETURN(const uint64_t last, ReplayChecksum(step, r, n_phases, sink_stride));
  if (last != result->checksum) {
    return Status::Error("the last replay read other bytes than the first (checksum {:#x} vs {:#x})", last,
                         result->checksum);
  }
  return Status::Ok();
}

Status SelectDevice(int device, BoundaryReport* report) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    return Status::Error("no CUDA device here ({}): the boundary probe needs a GPU",
                         err != cudaSuccess ? cudaGetErrorString(err) : "none found");
  }
  if (device >= count) {
    return Status::Error("CUDA device {} does not exist: this machine has {} (pick 0..{})", device, count, count - 1);
  }
  TANDEM_CUDA_TRY(cudaSetDevice(device));
  cudaDeviceProp prop{};
  TANDEM_CUDA_TRY(cudaGetDeviceProperties(&prop, device));
  report->gpu = prop.name;
  report->device = device;
  report->sms = prop.multiProcessorCount;
  report->l2_bytes = static_cast<uint64_t>(prop.l2CacheSize);
  if (prop.cooperativeLaunch == 0) {
    return Status::Error("{} cannot launch cooperative kernels: the persistent structures need it", prop.name);
  }
  return Status::Ok();
}

}  // namespace

Status ValidateBoundaryConfig(const BoundaryConfig& c) {
  if (c.phase_bytes.empty()) return Status::Error("no phases: give the size of each phase of one layer");
  for (size_t i = 0; i < c.phase_bytes.size(); ++i) {
    const uint64_t b = c.phase_bytes[i];
    if (b < 16 || b % 16 != 0) {
      return Status::Error("phase {} is {} bytes: each phase must be a multiple of 16 bytes, at least 16", i + 1, b);
    }
    if (b > (uint64_t{1} << 40)) return Status::Error("phase {} is {} bytes: more than any GPU holds", i + 1, b);
  }
  if (c.layers < 1) return Status::Error("{} layers: the step needs at least 1", c.layers);
  if (static_cast<uint64_t>(c.layers) * c.phase_bytes.size() > uint64_t{1} << 20) {
    return Status::Error("{} layers x {} phases: more than 2^20 phases per step; use fewer layers", c.layers,
                         c.phase_bytes.size());
  }
  if (c.steps < 1) return Status::Error("{} timed steps: need at least 1", c.steps);
  if (c.warmup < 1) return Status::Error("{} warm-up steps: need at least 1 (the first one is checked)", c.warmup);
  if (c.device < 0) return Status::Error("CUDA device {}: device ordinals start at 0", c.device);
  return Status::Ok();
}

Expected<BoundaryReport> RunBoundaryProbe(const BoundaryConfig& config) {
  TANDEM_TRY(ValidateBoundaryConfig(config));
  BoundaryReport report;
  TANDEM_TRY(SelectDevice(config.device, &report));
  if (config.roofline_bytes > 0) {
    auto roofline = MeasureReadBandwidth(config.roofline_bytes, 10);
    if (!roofline.ok()) return roofline.status().WithContext("roofline");
    report.roofline_gb_per_s = roofline->gb_per_s;
  }

  const Layout layout = LayOut(config);
  report.phases = layout.spans;
  report.buffer_bytes = layout.buffer_bytes;
  report.bytes_per_step = layout.bytes_per_step;
  const int n_phases = static_cast<int>(layout.spans.size());

  int kernel_resident = 0, persistent_resident = 0, prefetch_resident = 0;
  TANDEM_CUDA_TRY(cuda_detail::BoundaryPhaseKernelResidentBlocks(&kernel_resident));
  TANDEM_CUDA_TRY(cuda_detail::BoundaryPersistentResidentBlocks(false, &persistent_resident));
  TANDEM_CUDA_TRY(cuda_detail::BoundaryPersistentResidentBlocks(true, &prefetch_resident));
  if (kernel_resident < 1 || persistent_resident < 1 || prefetch_resident < 1) {
    return Status::Error("the probe's kernels cannot run on {} (occupancy 0)", report.gpu);
  }
  const int sink_stride = std::max({kernel_resident, persistent_resident, prefetch_resident});
  const uint64_t sink_bytes = static_cast<uint64_t>(n_phases) * static_cast<uint64_t>(sink_stride) * 4;

  size_t free_bytes = 0, total_bytes = 0;
  TANDEM_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  const uint64_t needed = layout.buffer_bytes + sink_bytes + (uint64_t{64} << 20);  // 64 MiB of headroom
  if (needed > free_bytes) {
    return Status::Error("the step needs {:.2f} GB of device memory and {} has {:.2f} GB free: use fewer layers or "
                         "smaller phases",
                         static_cast<double>(needed) / 1e9, report.gpu, static_cast<double>(free_bytes) / 1e9);
  }

  ProbeResources r;
  TANDEM_CUDA_TRY(cudaMalloc(&r.buffer, layout.buffer_bytes));
  TANDEM_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&r.sink), sink_bytes));
  const size_t barrier_bytes = 2 * cuda_detail::kBoundaryBarrierWords * sizeof(unsigned long long);
  TANDEM_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&r.barriers), barrier_bytes));
  TANDEM_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&r.phases), sizeof(BoundaryPhase) * n_phases));
  TANDEM_CUDA_TRY(cudaStreamCreateWithFlags(&r.stream, cudaStreamNonBlocking));
  TANDEM_CUDA_TRY(cudaEventCreate(&r.start));
  TANDEM_CUDA_TRY(cudaEventCreate(&r.stop));

  std::vector<BoundaryPhase> table;
  for (const BoundaryPhaseSpan& s : layout.spans) table.push_back({s.offset / 16, s.bytes / 16});
  TANDEM_CUDA_TRY(cudaMemcpy(r.phases, table.data(), sizeof(BoundaryPhase) * table.size(), cudaMemcpyHostToDevice));
  TANDEM_CUDA_TRY(cudaMemset(r.barriers, 0, barrier_bytes));
  TANDEM_TRY(FillRandomBytes(r.buffer, layout.buffer_bytes, config.seed, r.stream));
  TANDEM_CUDA_TRY(cudaStreamSynchronize(r.stream));

  // A. One PDL kernel per phase.
  BoundaryStructureResult kernels;
  kernels.name = "kernels";
  kernels.launches_per_step = n_phases;
  for (const BoundaryPhase& p : table) {
    kernels.blocks = std::max(kernels.blocks, cuda_detail::BoundaryPhaseBlocks(p.n16, kernel_resident));
  }
  auto enqueue_kernels = [&](cudaStream_t stream) {
    for (int i = 0; i < n_phases; ++i) {
      const int blocks = cuda_detail::BoundaryPhaseBlocks(table[i].n16, kernel_resident);
      const cudaError_t err = cuda_detail::LaunchBoundaryPhase(
          r.buffer, table[i], blocks, r.sink + static_cast<size_t>(i) * sink_stride, stream);
      if (err != cudaSuccess) return err;
    }
    return cudaSuccess;
  };
  if (Status st = RunStructure(enqueue_kernels, config, r, n_phases, sink_stride, &kernels); !st.ok()) {
    return st.WithContext("kernels");
  }
  report.structures.push_back(kernels);

  // B and C. One cooperative kernel per step, each with its own barrier words.
  for (const bool prefetch : {false, true}) {
    BoundaryStructureResult persistent;
    persistent.name = prefetch ? "persistent+prefetch" : "persistent";
    persistent.launches_per_step = 1;
    persistent.blocks = prefetch ? prefetch_resident : persistent_resident;
    unsigned long long* barrier = r.barriers + (prefetch ? cuda_detail::kBoundaryBarrierWords : 0);
    auto enqueue_persistent = [&](cudaStream_t stream) {
      return cuda_detail::LaunchBoundaryPersistent(r.buffer, r.phases, n_phases, r.sink, sink_stride, barrier,
                                                   persistent.blocks, prefetch, stream);
    };
    if (Status st = RunStructure(enqueue_persistent, config, r, n_phases, sink_stride, &persistent); !st.ok()) {
      return st.WithContext(persistent.name);
    }
    report.structures.push_back(persistent);
  }
  return report;
}

}  // namespace tandem
