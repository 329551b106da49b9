// QuantMatMul (kernels/cuda/quant_matvec.h) for every supported weight type against the
// CPU reference MatMul (kernels/cpu/matvec.h) over the same GGUF blocks: the attention,
// expert and vocab shapes of qwen3moe-30b-a3b and minimax-m2, odd sizes (1, 7, 33 rows;
// one block, three blocks, long rows with a partial last step), n_tokens 1, 2, 3 and 8,
// and column slices whose rows are further apart than their bytes (row_stride > row bytes,
// often leaving rows unaligned). Compared by normalised error max|gpu - cpu| / max|cpu|.
// The int8-activation path (ActivationRounding::kLikeGgml) is checked the same way against
// its CPU twin: RoundActivationsLikeGgml of each token's x, then MatMul.
//
// Without a CUDA device every GPU test skips with the reason. Perf table (GB/s per type and
// shape at n_tokens 1 against the measured copy and read bandwidth):
//   TANDEM_CUDA_PERF=1 quant_matvec_test --gtest_filter='QuantMatVecPerf.*'
#include "kernels/cuda/quant_matvec.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "kernels/cpu/activation_rounding.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cpu/quant.h"
#include "kernels/cuda/bandwidth_probe.h"
#include "model/ggml_type.h"

namespace tandem {
namespace {

// f32 sums in a different order than the CPU's: differences are rounding only, ~1e-7 of
// the largest output on these sizes; 1e-5 leaves room and still catches any wrong
// element (one mis-decoded element moves a dot product by ~1e-3 of its size).
constexpr double kMaxNormalisedError = 1e-5;
constexpr int64_t kTokenCounts[] = {1, 2, 3, 8};
constexpr int64_t kMaxTokens = 8;

// Why no GPU test can run here, or empty when a device is present.
std::string NoDeviceReason() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(err);
  if (n == 0) return "no CUDA device";
  return "";
}

#define SKIP_WITHOUT_CUDA_DEVICE()                                \
  do {                                                            \
    const std::string why = NoDeviceReason();                     \
    if (!why.empty()) GTEST_SKIP() << why << " (CUDA test skipped)"; \
  } while (0)

#define ASSERT_CUDA(expr) ASSERT_EQ((expr), cudaSuccess) << #expr << ": " << cudaGetErrorString(cudaGetLastError())

// A device allocation freed on scope exit.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(uint64_t bytes) : bytes_(bytes) {
    if (cudaMalloc(&ptr_, std::max<uint64_t>(bytes, 16)) != cudaSuccess) ptr_ = nullptr;
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T = uint8_t>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  uint64_t bytes_ = 0;
};

struct Shape {
  std::string what;
  int64_t rows;
  int64_t cols;
  int64_t slice_offset_blocks = 0;  // > 0: a column slice starting this many blocks into
  int64_t slice_extra_blocks = 0;   //   rows of cols + extra blocks (row_stride > row bytes)
};

std::vector<Shape> RealShapes(int64_t qwen_vocab, int64_t minimax_vocab) {
  return {
      {"qwen3 wq", 4096, 2048},          {"qwen3 wk/wv", 512, 2048},         {"qwen3 wo", 2048, 4096},
      {"qwen3 expert gate/up", 768, 2048}, {"qwen3 expert down", 2048, 768}, {"qwen3 vocab", qwen_vocab, 2048},
      {"minimax wq", 6144, 3072},        {"minimax wk/wv", 1024, 3072},      {"minimax wo", 3072, 6144},
      {"minimax expert gate/up", 1536, 3072}, {"minimax expert down", 3072, 1536},
      {"minimax vocab", minimax_vocab, 3072},
  };
}

// Shapes for the correctness table of one type (block = the type's block size).
std::vector<Shape> CorrectnessShapes(GgmlType type) {
  const int64_t block = TypeInfo(type).block_size;
  std::vector<Shape> shapes = RealShapes(8192, 8192);  // vocab: an 8192-row slice
  for (int64_t rows : {1, 7, 33}) {
    shapes.push_back({"odd, one block", rows, block});
    shapes.push_back({"odd, three blocks", rows, 3 * block});
  }
  // long rows: several staging steps, the last one partial
  shapes.push_back({"odd, long row", 5, block == 1 ? 3000 : 37 * block});
  // column slices: rows start one block into a wider matrix
  shapes.push_back({"slice of qwen3 expert down", 2048, 768, 1, 2});
  shapes.push_back({"slice of minimax gate/up", 1536, 3072, 3, 5});
  shapes.push_back({"slice, odd", 33, 3 * block, 1, 1});
  if (block == 1) {  // float rows that are not a multiple of 8 (the plain kernel)
    shapes.push_back({"float, odd cols", 33, 1003});
    shapes.push_back({"float slice, odd cols", 7, 1001, 1, 2});
  } else if (block == 32) {  // a partial last group of 256
    shapes.push_back({"legacy, partial group", 9, 256 + 96});
  }
  return shapes;
}

std::string CaseName(GgmlType type, const Shape& s, int64_t n_tokens) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s %s [%lld x %lld]%s n_tokens %lld", std::string(TypeName(type)).c_str(),
                s.what.c_str(), static_cast<long long>(s.rows), static_cast<long long>(s.cols),
                s.slice_offset_blocks > 0 ? " strided" : "", static_cast<long long>(n_tokens));
  return buf;
}

ThreadPool& Pool() {
  static ThreadPool pool;
  return pool;
}

// Host blocks of `rows` x `full_cols` random N(0,1) values quantized row by row.
std::vector<uint8_t> RandomBlocks(GgmlType type, int64_t rows, int64_t full_cols, uint32_t seed) {
  const uint64_t row_bytes = RowBytes(type, full_cols);
  std::vector<uint8_t> blocks(rows * row_bytes);
  Pool().ParallelFor(rows, [&](int64_t begin, int64_t end) {
    std::mt19937 rng(seed + static_cast<uint32_t>(begin));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> row(full_cols);
    for (int64_t r = begin; r < end; ++r) {
      for (float& v : row) v = normal(rng);
      QuantizeRow(type, row.data(), blocks.data() + r * row_bytes, full_cols);
    }
  });
  return blocks;
}

struct CaseResult {
  double normalised_error = 0;
  bool all_finite = true;
};

// Every shape of CorrectnessShapes(type) at every token count, GPU under `rounding` vs
// its CPU twin; prints the worst error.
void CheckAgainstCpu(GgmlType type, ActivationRounding rounding) {
  const int64_t block = TypeInfo(type).block_size;
  double worst = 0;
  int cases = 0;
  uint32_t seed = 1000 * static_cast<uint32_t>(type);
  for (const Shape& shape : CorrectnessShapes(type)) {
    const int64_t full_cols = shape.cols + shape.slice_extra_blocks * block;
    const uint64_t row_stride = RowBytes(type, full_cols);
    const uint64_t first_byte = RowBytes(type, shape.slice_offset_blocks * block);
    const std::vector<uint8_t> blocks = RandomBlocks(type, shape.rows, full_cols, ++seed);

    std::mt19937 rng(++seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> x(kMaxTokens * shape.cols);
    for (float& v : x) v = uniform(rng);

    // CPU reference for 8 tokens; token t's outputs depend on x[t] alone, so fewer tokens
    // are its first rows.
    std::vector<float> ref(kMaxTokens * shape.rows), x_cpu = x;
    if (rounding == ActivationRounding::kLikeGgml) {
      for (int64_t t = 0; t < kMaxTokens; ++t) {
        RoundActivationsLikeGgml(type, x.data() + t * shape.cols, shape.cols, x_cpu.data() + t * shape.cols);
      }
    }
    MatMul(type, blocks.data() + first_byte, shape.rows, shape.cols, x_cpu.data(), kMaxTokens, ref.data(), &Pool(),
           row_stride);

    DeviceBuffer w_dev(blocks.size()), x_dev(x.size() * sizeof(float)), y_dev(ref.size() * sizeof(float));
    ASSERT_TRUE(w_dev.get() && x_dev.get() && y_dev.get()) << "cudaMalloc failed for " << shape.what;
    ASSERT_CUDA(cudaMemcpy(w_dev.get(), blocks.data(), blocks.size(), cudaMemcpyHostToDevice));
    ASSERT_CUDA(cudaMemcpy(x_dev.get(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));

    for (int64_t n_tokens : kTokenCounts) {
      const std::string name = CaseName(type, shape, n_tokens);
      ASSERT_CUDA(cudaMemset(y_dev.get(), 0xff, y_dev.bytes()));  // NaN: unwritten outputs fail
      const Status st = QuantMatMul(type, w_dev.get() + first_byte, shape.rows, shape.cols, row_stride,
                                    x_dev.get<float>(), n_tokens, y_dev.get<float>(), nullptr, rounding);
      ASSERT_TRUE(st.ok()) << name << ": " << st.message();
      ASSERT_CUDA(cudaDeviceSynchronize());
      std::vector<float> y(n_tokens * shape.rows);
      ASSERT_CUDA(cudaMemcpy(y.data(), y_dev.get(), y.size() * sizeof(float), cudaMemcpyDeviceToHost));

      double max_ref = 0, max_diff = 0;
      int64_t bad = -1;
      for (int64_t i = 0; i < n_tokens * shape.rows; ++i) {
        max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref[i])));
        const double diff = std::fabs(static_cast<double>(y[i]) - ref[i]);
        if (!std::isfinite(y[i])) {
          bad = i;
          break;
        }
        max_diff = std::max(max_diff, diff);
      }
      ASSERT_EQ(bad, -1) << name << ": output " << bad << " is " << y[bad] << " (reference " << ref[bad] << ")";
      const double err = max_ref > 0 ? max_diff / max_ref : max_diff;
      EXPECT_LE(err, kMaxNormalisedError) << name << ": max |diff| " << max_diff << ", max |ref| " << max_ref;
      worst = std::max(worst, err);
      ++cases;
    }
  }
  std::printf("[ %-6s ] %s activations: %d cases, max normalised error %.3g (bound %.0e)\n",
              std::string(TypeName(type)).c_str(), rounding == ActivationRounding::kNone ? "f32" : "int8/ggml", cases,
              worst, kMaxNormalisedError);
}

class QuantMatVecTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantMatVecTest, MatchesCpuReference) {
  SKIP_WITHOUT_CUDA_DEVICE();
  CheckAgainstCpu(GetParam(), ActivationRounding::kNone);
}

// The int8 dp4a kernel (F16 / BF16: x rounded to the weight type): the integer sums are
// exact, so it meets the same bound against its CPU twin.
TEST_P(QuantMatVecTest, Int8ActivationsMatchCpuTwin) {
  SKIP_WITHOUT_CUDA_DEVICE();
  CheckAgainstCpu(GetParam(), ActivationRounding::kLikeGgml);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantMatVecTest, ::testing::ValuesIn(SupportedTypes().begin(), SupportedTypes().end()),
                         [](const ::testing::TestParamInfo<GgmlType>& info) {
                           return std::string(TypeName(info.param));
                         });

// Argument checks run before any CUDA call: this test runs everywhere.
TEST(QuantMatVecArgs, RejectsBadArguments) {
  float* fake = reinterpret_cast<float*>(uintptr_t{4096});
  auto call = [&](GgmlType type, int64_t rows, int64_t cols, uint64_t stride, int64_t n_tokens, const float* x) {
    return QuantMatMul(type, fake, rows, cols, stride, x, n_tokens, fake, nullptr);
  };
  EXPECT_FALSE(call(GgmlType::Q4_K, 4, 100, 0, 1, fake).ok());  // cols not a multiple of 256
  EXPECT_FALSE(call(GgmlType::Q8_0, 4, 64, 0, 0, fake).ok());   // no tokens
  EXPECT_FALSE(call(GgmlType::Q8_0, 4, 64, 0, 9, fake).ok());   // too many tokens
  EXPECT_FALSE(call(GgmlType::Q8_0, 4, 64, 60, 1, fake).ok());  // stride < 68-byte rows
  EXPECT_FALSE(call(GgmlType::Q8_0, -1, 64, 0, 1, fake).ok());
  EXPECT_FALSE(call(GgmlType::Q8_K, 4, 256, 0, 1, fake).ok());  // no kernel for the type
  EXPECT_FALSE(call(GgmlType::Q8_0, 4, 64, 0, 1, fake + 1).ok());  // x not 16-byte aligned
  const Status st = call(GgmlType::Q4_K, 4, 100, 0, 1, fake);
  EXPECT_NE(st.message().find("Q4_K"), std::string::npos) << st.message();
  EXPECT_TRUE(call(GgmlType::Q8_0, 0, 64, 0, 1, fake).ok());  // no rows: nothing to do
}

// --- perf ----------------------------------------------------------------------------------

struct PerfRow {
  std::string type, shape;
  int64_t rows, cols;
  double mbytes, us1, gbps1, us8, gbps8;  // f32 activations
  double us1_i8, gbps1_i8, us8_i8;         // int8 activations (ActivationRounding::kLikeGgml)
};

// Median-free but launch-gap-free: `launches` calls captured into a CUDA graph, the graph
// replayed `replays` times between events; seconds per call.
double TimeGraph(const std::vector<const uint8_t*>& copies, GgmlType type, const Shape& s, const float* x,
                 int64_t n_tokens, float* y, int launches, int replays, ActivationRounding rounding) {
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  for (int i = 0; i < launches; ++i) {
    Status st = QuantMatMul(type, copies[i % copies.size()], s.rows, s.cols, 0, x, n_tokens, y, stream, rounding);
    if (!st.ok()) ADD_FAILURE() << st.message();
  }
  cudaStreamEndCapture(stream, &graph);
  cudaGraphInstantiate(&exec, graph, 0);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  cudaGraphLaunch(exec, stream);  // warm-up
  cudaEventRecord(start, stream);
  for (int r = 0; r < replays; ++r) cudaGraphLaunch(exec, stream);
  cudaEventRecord(stop, stream);
  cudaEventSynchronize(stop);
  float ms = 0;
  cudaEventElapsedTime(&ms, start, stop);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) ADD_FAILURE() << "graph timing: " << cudaGetErrorString(err);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  return ms * 1e-3 / (static_cast<double>(launches) * replays);
}

TEST(QuantMatVecPerf, Table) {
  SKIP_WITHOUT_CUDA_DEVICE();
  if (std::getenv("TANDEM_CUDA_PERF") == nullptr) GTEST_SKIP() << "set TANDEM_CUDA_PERF=1 for the perf table";
  cudaDeviceProp prop;
  ASSERT_CUDA(cudaGetDeviceProperties(&prop, 0));
  auto copy = MeasureCopyBandwidth(uint64_t{1} << 30, 20);
  auto read = MeasureReadBandwidth(uint64_t{2} << 30, 20);
  ASSERT_TRUE(copy.ok()) << copy.status().message();
  ASSERT_TRUE(read.ok()) << read.status().message();
  std::printf("device %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
  std::printf("measured: copy %.0f GB/s (read + write), streaming read %.0f GB/s\n", copy->gb_per_s, read->gb_per_s);

  // Weights cycle through copies totalling >= 4 x L2, so every call reads from DRAM.
  const uint64_t rotate_bytes = std::max<uint64_t>(256ull << 20, 4ull * prop.l2CacheSize);
  std::vector<PerfRow> table;
  DeviceBuffer x_dev(kMaxTokens * 6144 * sizeof(float)), y_dev(kMaxTokens * 200064 * sizeof(float));
  {
    std::vector<float> x(kMaxTokens * 6144);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (float& v : x) v = uniform(rng);
    ASSERT_CUDA(cudaMemcpy(x_dev.get(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
  for (GgmlType type : SupportedTypes()) {
    for (const Shape& s : RealShapes(151936, 200064)) {
      const uint64_t bytes = s.rows * RowBytes(type, s.cols);
      const uint64_t padded = (bytes + 255) / 256 * 256;
      const int n_copies = static_cast<int>(std::max<uint64_t>(1, (rotate_bytes + padded - 1) / padded));
      DeviceBuffer w_dev(padded * n_copies);
      ASSERT_TRUE(w_dev.get()) << "cudaMalloc " << padded * n_copies;
      ASSERT_TRUE(FillRandomBytes(w_dev.get(), w_dev.bytes(), static_cast<uint64_t>(type), nullptr).ok());
      std::vector<const uint8_t*> copies;
      for (int i = 0; i < n_copies; ++i) copies.push_back(w_dev.get() + i * padded);
      const int launches = std::max(n_copies, 8);
      const int replays = std::max(2, static_cast<int>(std::min<uint64_t>(50, (4ull << 30) / (bytes * launches) + 1)));
      auto time = [&](int64_t n_tokens, ActivationRounding rounding) {
        return TimeGraph(copies, type, s, x_dev.get<float>(), n_tokens, y_dev.get<float>(), launches, replays,
                         rounding);
      };
      const double t1 = time(1, ActivationRounding::kNone), t8 = time(8, ActivationRounding::kNone);
      const double q1 = time(1, ActivationRounding::kLikeGgml), q8 = time(8, ActivationRounding::kLikeGgml);
      table.push_back({std::string(TypeName(type)), s.what, s.rows, s.cols, bytes / 1e6, t1 * 1e6, bytes / t1 / 1e9,
                       t8 * 1e6, bytes / t8 / 1e9, q1 * 1e6, bytes / q1 / 1e9, q8 * 1e6});
    }
  }
  std::printf("\n%-7s %-22s %7s %5s %8s | f32 x: %7s %7s %6s %8s | int8 x: %7s %7s %6s %8s\n", "type", "shape", "rows",
              "cols", "MB", "us@1", "GB/s@1", "%read", "us@8", "us@1", "GB/s@1", "%read", "us@8");
  for (const PerfRow& r : table) {
    std::printf("%-7s %-22s %7lld %5lld %8.2f |        %7.2f %7.0f %5.0f%% %8.2f |         %7.2f %7.0f %5.0f%% %8.2f\n",
                r.type.c_str(), r.shape.c_str(), static_cast<long long>(r.rows), static_cast<long long>(r.cols),
                r.mbytes, r.us1, r.gbps1, 100 * r.gbps1 / read->gb_per_s, r.us8, r.us1_i8, r.gbps1_i8,
                100 * r.gbps1_i8 / read->gb_per_s, r.us8_i8);
  }
}

}  // namespace
}  // namespace tandem
