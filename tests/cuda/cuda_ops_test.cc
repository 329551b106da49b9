// Every op of the CUDA backend (engine/cuda_backend.h, kernels/cuda/*) against the CPU
// backend, the reference, through the same Backend calls: the shapes of qwen3moe-30b-a3b
// (n_embd 2048, 32 q / 4 kv heads x 128, n_rot 128, 128 experts top 8, FFN 768) and
// minimax-m2 (3072, 48 / 8 x 128, n_rot 64, 256 experts top 8, FFN 1536), and odd ones.
// Each table prints its cases' normalised errors (max |gpu - cpu| / max |cpu|) next to the
// bound it asserts. Outputs start as NaN, so an element no kernel writes fails.
// Without a CUDA device every test skips with the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "cuda_test_support.h"
#include "engine/cpu_backend.h"
#include "engine/cuda_backend.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quant.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cuda/spin_delay.h"

namespace tandem {
namespace {

using testing::FromDevice;
using testing::MakeCudaBackend;
using testing::NormalisedError;
using testing::PoisonedDevice;
using testing::ToDevice;

// Bounds, by what differs between the two sides:
// bit-for-bit formulas (dequantize, residual add, f32 -> f16 store): only an fma could differ.
constexpr double kExactBound = 1e-6;
// RMS norm: the double sum of squares in another order, the rest rounded step by step.
constexpr double kNormBound = 1e-6;
// RoPE: identical angles, cos/sin of the CUDA math library within 2 ulp of glibc's.
constexpr double kRopeBound = 1e-5;
// Matrix products, attention, expert FFNs: f32 sums in another order (and exp within 2 ulp);
// rounding only, ~1e-7 of the largest output; a wrong element moves outputs by ~1e-2.
constexpr double kSumOrderBound = 1e-5;
// Router weights: the softmax sum in another order shifts the probs by an ulp.
constexpr double kRouterBound = 1e-6;
// Expert FFNs with int8 activations: the down product's input comes from SwiGLU, whose exp
// differs by an ulp between the sides, so an element on a rounding boundary can take the
// neighbouring int8 level: one such flip moves an output by ~1/127 of its block's largest x
// times one weight, ~3e-4 of the outputs' size here. 2e-3 allows a few; a mis-decoded
// element or a wrong expert moves outputs by more than 1e-2.
constexpr double kInt8FlipBound = 2e-3;

void Report(const char* op, const std::string& name, double error, double bound) {
  std::printf("  %-10s %-58s error %.2e  bound %.0e  %s\n", op, name.c_str(), error, bound,
              error <= bound ? "ok" : "FAIL");
}

ThreadPool& Pool() {
  static ThreadPool pool;
  return pool;
}

CpuBackend MakeCpu(bool ggml_activation_rounding = false) {
  CpuBackendOptions options;
  options.ggml_activation_rounding = ggml_activation_rounding;
  return CpuBackend(options);
}

// The products' two activation modes: f32 (vs the CPU reference) and int8 like ggml (vs
// the CPU backend rounding the same way, the CUDA int8 path's twin).
constexpr ActivationRounding kActivationModes[] = {ActivationRounding::kNone, ActivationRounding::kLikeGgml};
const char* ModeName(ActivationRounding r) { return r == ActivationRounding::kNone ? "f32 x" : "int8 x"; }

std::vector<float> RandomFloats(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

// rows x cols of `type`, random N(0, 1) values quantized row by row.
std::vector<uint8_t> QuantizedRows(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  const uint64_t row_bytes = RowBytes(type, static_cast<uint64_t>(cols));
  std::vector<uint8_t> out(static_cast<size_t>(rows * row_bytes));
  Pool().ParallelFor(rows, [&](int64_t begin, int64_t end) {
    std::mt19937 rng(seed + static_cast<uint32_t>(begin) * 7919u);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = begin; r < end; ++r) {
      for (float& x : row) x = normal(rng);
      QuantizeRow(type, row.data(), out.data() + r * row_bytes, cols);
    }
  });
  return out;
}

// Q8_0 blocks straight from random bytes (fast for the big expert tables): scale
// 2^-7..2^-6, quants uniform int8.
std::vector<uint8_t> RandomQ8Blocks(uint64_t n_blocks, uint32_t seed) {
  std::vector<uint8_t> out(n_blocks * 34);
  Pool().ParallelFor(static_cast<int64_t>(n_blocks), [&](int64_t begin, int64_t end) {
    std::minstd_rand rng(seed + static_cast<uint32_t>(begin));
    for (int64_t b = begin; b < end; ++b) {
      uint8_t* block = out.data() + b * 34;
      const uint16_t d = F32ToF16(std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -7));
      std::memcpy(block, &d, 2);
      for (int i = 0; i < 32; ++i) block[2 + i] = static_cast<uint8_t>(rng());
    }
  });
  return out;
}

std::string Shape(const char* what, std::initializer_list<int64_t> dims) {
  std::string s = std::string(what) + " [";
  bool first = true;
  for (int64_t d : dims) {
    s += (first ? "" : " x ") + std::to_string(d);
    first = false;
  }
  return s + "]";
}

// --- embedding -----------------------------------------------------------------------

TEST(CudaOps, EmbedMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (GgmlType type : SupportedTypes()) {
    const int64_t block = TypeInfo(type).block_size;
    for (int64_t cols : {int64_t{2048}, int64_t{3072}, block == 1 ? int64_t{1003} : 3 * block}) {
      const int64_t rows = 50;
      const std::vector<uint8_t> table = QuantizedRows(type, rows, cols, 11 + static_cast<uint32_t>(cols));
      const std::vector<int32_t> ids = {0, 49, 7, 7, 23};
      const int64_t n = static_cast<int64_t>(ids.size());
      const WeightMatrix host = WeightMatrix::Contiguous(type, table.data(), rows, cols);

      CpuBackend cpu = MakeCpu();
      std::vector<float> want(static_cast<size_t>(n * cols));
      cpu.Embed(host, ids.data(), n, want.data());

      auto gpu = MakeCudaBackend();
      ASSERT_TRUE(gpu);
      ModelWeights mw;
      mw.token_embd = host;
      auto placed = gpu->PlaceWeights(mw);
      ASSERT_TRUE(placed.ok()) << placed.status().message();
      const int32_t* d_ids = ToDevice(*gpu, ids);
      float* d_x = PoisonedDevice<float>(*gpu, n * cols);
      gpu->Embed(placed->token_embd, d_ids, n, d_x);
      const double err = NormalisedError(want, FromDevice(*gpu, d_x, n * cols));
      const std::string name = std::string(TypeName(type)) + " " + Shape("table", {rows, cols}) + " 5 ids";
      Report("embed", name, err, kExactBound);
      EXPECT_LE(err, kExactBound) << name;
    }
  }
}

// --- norms, add -------------------------------------------------------------------------

TEST(CudaOps, RmsNormMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  struct Case {
    const char* what;
    int64_t rows, n;
    bool weighted;
  };
  const Case cases[] = {
      {"qwen3 attn/ffn norm, 1 token", 1, 2048, true},   {"minimax attn/ffn norm, 8 tokens", 8, 3072, true},
      {"qwen3 q norm per head, 8 tokens", 8 * 32, 128, true}, {"qwen3 k norm per head, 3 tokens", 3 * 4, 128, true},
      {"odd, no weight", 3, 1000, false},                  {"odd, one value", 5, 1, true},
  };
  uint32_t seed = 100;
  for (const Case& c : cases) {
    const std::vector<float> x = RandomFloats(c.rows * c.n, ++seed, -3.0f, 3.0f);
    const std::vector<float> w = RandomFloats(c.n, ++seed, 0.5f, 1.5f);
    CpuBackend cpu = MakeCpu();
    std::vector<float> want(x.size());
    cpu.RmsNorm(x.data(), WeightVector{c.weighted ? w.data() : nullptr, c.n}, c.rows, c.n, 1e-6f, want.data());

    auto gpu = MakeCudaBackend();
    ASSERT_TRUE(gpu);
    const float* d_w = c.weighted ? ToDevice(*gpu, w) : nullptr;
    float* d_x = ToDevice(*gpu, x);
    gpu->RmsNorm(d_x, WeightVector{d_w, c.n}, c.rows, c.n, 1e-6f, d_x);  // in place, as the engine's q/k norm
    const double err = NormalisedError(want, FromDevice(*gpu, d_x, c.rows * c.n));
    const std::string name = Shape(c.what, {c.rows, c.n});
    Report("rms_norm", name, err, kNormBound);
    EXPECT_LE(err, kNormBound) << name;
  }
}

// The residual add fused with the next norm: x as added, and its norm.
TEST(CudaOps, AddRmsNormMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  struct Case {
    const char* what;
    int64_t rows, n;
    bool weighted;
  };
  const Case cases[] = {
      {"qwen3 ffn in, 1 token", 1, 2048, true},
      {"minimax layer out, 8 tokens", 8, 3072, true},
      {"odd, no weight", 3, 1000, false},
  };
  uint32_t seed = 150;
  for (const Case& c : cases) {
    const std::vector<float> x = RandomFloats(c.rows * c.n, ++seed, -3.0f, 3.0f);
    const std::vector<float> add = RandomFloats(c.rows * c.n, ++seed, -3.0f, 3.0f);
    const std::vector<float> w = RandomFloats(c.n, ++seed, 0.5f, 1.5f);
    CpuBackend cpu = MakeCpu();
    std::vector<float> want_x = x, want_y(x.size());
    cpu.AddRmsNorm(want_x.data(), add.data(), WeightVector{c.weighted ? w.data() : nullptr, c.n}, c.rows, c.n, 1e-6f,
                   want_y.data());

    auto gpu = MakeCudaBackend();
    ASSERT_TRUE(gpu);
    float* d_x = ToDevice(*gpu, x);
    float* d_y = PoisonedDevice<float>(*gpu, c.rows * c.n);
    gpu->AddRmsNorm(d_x, ToDevice(*gpu, add), WeightVector{c.weighted ? ToDevice(*gpu, w) : nullptr, c.n}, c.rows,
                    c.n, 1e-6f, d_y);
    const double x_err = NormalisedError(want_x, FromDevice(*gpu, d_x, c.rows * c.n));
    const double y_err = NormalisedError(want_y, FromDevice(*gpu, d_y, c.rows * c.n));
    const std::string name = Shape(c.what, {c.rows, c.n});
    Report("add x", name, x_err, 0);
    Report("add norm", name, y_err, kNormBound);
    EXPECT_EQ(x_err, 0) << name;
    EXPECT_LE(y_err, kNormBound) << name;
  }
}

// minimax-m2's q/k norm over the whole projection: each rank's sums of squares (n of the
// values of each row; the norm itself is HeadNormRopeStore's, below).
TEST(CudaOps, SumSquaresMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  struct Case {
    const char* what;
    int64_t rows, n;
  };
  const Case cases[] = {{"minimax q, whole, 5 tokens", 5, 6144},
                        {"minimax q, rank 1 of 3 (16 heads)", 3, 2048},
                        {"minimax k, rank 2 of 3 (2 heads), 1 token", 1, 256},
                        {"odd", 2, 77}};
  uint32_t seed = 200;
  for (const Case& c : cases) {
    const std::vector<float> x = RandomFloats(c.rows * c.n, ++seed, -2.0f, 2.0f);
    CpuBackend cpu = MakeCpu();
    std::vector<float> want(static_cast<size_t>(c.rows));
    cpu.SumSquares(x.data(), c.rows, c.n, want.data());
    auto gpu = MakeCudaBackend();
    ASSERT_TRUE(gpu);
    float* d_sums = PoisonedDevice<float>(*gpu, c.rows);
    gpu->SumSquares(ToDevice(*gpu, x), c.rows, c.n, d_sums);
    const double err = NormalisedError(want, FromDevice(*gpu, d_sums, c.rows));
    const std::string name = Shape(c.what, {c.rows, c.n});
    Report("sum_sq", name, err, kNormBound);
    EXPECT_LE(err, kNormBound) << name;
  }
}

TEST(CudaOps, AddMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t n : {int64_t{2048}, int64_t{8 * 3072}, int64_t{1}, int64_t{1000003}}) {
    const std::vector<float> x = RandomFloats(n, 300 + static_cast<uint32_t>(n % 1000));
    const std::vector<float> y = RandomFloats(n, 400 + static_cast<uint32_t>(n % 1000));
    CpuBackend cpu = MakeCpu();
    std::vector<float> want = x;
    cpu.Add(want.data(), y.data(), n);
    auto gpu = MakeCudaBackend();
    ASSERT_TRUE(gpu);
    float* d_x = ToDevice(*gpu, x);
    gpu->Add(d_x, ToDevice(*gpu, y), n);
    const double err = NormalisedError(want, FromDevice(*gpu, d_x, n));
    Report("add", Shape("x += y", {n}), err, 0.0);
    EXPECT_EQ(err, 0.0);
  }
}

// --- matrix products (the backend's chunking of > 8 tokens; the kernels have their own table)

TEST(CudaOps, MatMulChunksMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  struct Case {
    const char* what;
    GgmlType type;
    int64_t rows, cols, n_tokens;
  };
  const Case cases[] = {{"qwen3 wk Q4_K, 13 tokens", GgmlType::Q4_K, 512, 2048, 13},
                        {"qwen3 router F32, 17 tokens", GgmlType::F32, 128, 2048, 17},
                        {"minimax wo Q6_K, 8 tokens", GgmlType::Q6_K, 3072, 6144, 8},
                        {"minimax router F32, 1 token", GgmlType::F32, 256, 3072, 1},
                        {"odd Q8_0, 9 tokens", GgmlType::Q8_0, 33, 96, 9}};
  uint32_t seed = 500;
  for (const Case& c : cases) {
    for (ActivationRounding mode : kActivationModes) {
      const std::vector<uint8_t> w = QuantizedRows(c.type, c.rows, c.cols, ++seed);
      const std::vector<float> x = RandomFloats(c.n_tokens * c.cols, ++seed);
      const WeightMatrix host = WeightMatrix::Contiguous(c.type, w.data(), c.rows, c.cols);
      CpuBackend cpu = MakeCpu(mode == ActivationRounding::kLikeGgml);
      std::vector<float> want(static_cast<size_t>(c.n_tokens * c.rows));
      cpu.MatMul(host, x.data(), c.n_tokens, want.data());

      auto gpu = MakeCudaBackend(mode);
      ASSERT_TRUE(gpu);
      ModelWeights mw;
      mw.output = host;
      auto placed = gpu->PlaceWeights(mw);
      ASSERT_TRUE(placed.ok()) << placed.status().message();
      float* d_y = PoisonedDevice<float>(*gpu, c.n_tokens * c.rows);
      gpu->MatMul(placed->output, ToDevice(*gpu, x), c.n_tokens, d_y);
      const double err = NormalisedError(want, FromDevice(*gpu, d_y, c.n_tokens * c.rows));
      const std::string name = Shape(c.what, {c.rows, c.cols}) + ", " + ModeName(mode);
      Report("matmul", name, err, kSumOrderBound);
      EXPECT_LE(err, kSumOrderBound) << name;
    }
  }
}

// --- rope ---------------------------------------------------------------------------------

TEST(CudaOps, RopeMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  struct Case {
    const char* what;
    int64_t n_tokens, n_heads, head_dim, n_rot, pos0;
    float base;
    bool yarn;
  };
  const Case cases[] = {
      {"qwen3 q, prompt of 9 at 0", 9, 32, 128, 128, 0, 1e6f, false},
      {"qwen3 k, decode at 4095", 1, 4, 128, 128, 4095, 1e6f, false},
      {"minimax q, n_rot 64, decode at 40000", 1, 48, 128, 64, 40000, 5e6f, false},
      {"minimax k, n_rot 64, 8 tokens at 1000", 8, 8, 128, 64, 1000, 5e6f, false},
      {"YaRN x4 of 4096, n_rot 64, 3 at 12000", 3, 8, 128, 64, 12000, 1e6f, true},
      {"odd: head_dim 80, n_rot 32", 7, 5, 80, 32, 3, 1e4f, false},
  };
  uint32_t seed = 600;
  for (const Case& c : cases) {
    RopeParams p;
    p.freq_base = c.base;
    p.n_rot = c.n_rot;
    if (c.yarn) {
      p.yarn.factor = 4.0f;
      p.yarn.original_context = 4096;
      p.yarn.ext_factor = 1.0f;
      p.yarn.attn_factor = 1.0f;
    }
    const int64_t n = c.n_tokens * c.n_heads * c.head_dim;
    const std::vector<float> x = RandomFloats(n, ++seed);
    CpuBackend cpu = MakeCpu();
    std::vector<float> want = x;
    cpu.Rope(p, want.data(), c.n_tokens, c.n_heads, c.head_dim, c.pos0);
    auto gpu = MakeCudaBackend();
    ASSERT_TRUE(gpu);
    float* d_x = ToDevice(*gpu, x);
    gpu->Rope(p, d_x, c.n_tokens, c.n_heads, c.head_dim, c.pos0);
    const double err = NormalisedError(want, FromDevice(*gpu, d_x, n));
    const std::string name = Shape(c.what, {c.n_tokens, c.n_heads, c.head_dim});
    Report("rope", name, err, kRopeBound);
    EXPECT_LE(err, kRopeBound) << name;
  }
}

// --- KV store + attention ---------------------------------------------------------------

// Where a case's rows sit: a prompt (n_tokens rows of sequence 0 from pos0 on), or a
// batched decode step (row r of sequence r at decode_pos[r]).
struct Rows {
  std::vector<int32_t> seq, pos;
  int64_t n() const { return static_cast<int64_t>(seq.size()); }
  int64_t ctx_bound() const { return *std::max_element(pos.begin(), pos.end()) + 1; }
  int64_t n_seq() const { return *std::max_element(seq.begin(), seq.end()) + 1; }
  RowPlaces On(const int32_t* seq_mem, const int32_t* pos_mem) const { return {seq_mem, pos_mem, n(), ctx_bound()}; }
};

Rows PromptRows(int64_t pos0, int64_t n_tokens) {
  Rows r;
  for (int64_t t = 0; t < n_tokens; ++t) r.seq.push_back(0), r.pos.push_back(static_cast<int32_t>(pos0 + t));
  return r;
}

Rows DecodeRows(std::initializer_list<int32_t> pos) {
  Rows r;
  for (int32_t p : pos) r.seq.push_back(static_cast<int32_t>(r.seq.size())), r.pos.push_back(p);
  return r;
}

// An attention table's case: heads, cache storage and the rows' places.
struct AttentionCase {
  const char* what;
  int64_t n_head, n_kv_head, head_dim;
  KvStorage storage;
  Rows rows;
};

TEST(CudaOps, StoreKvAndAttentionMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const AttentionCase cases[] = {
      {"qwen3 decode, 1st position", 32, 4, 128, KvStorage::kF16, PromptRows(0, 1)},
      {"qwen3 decode at 37", 32, 4, 128, KvStorage::kF16, PromptRows(37, 1)},
      {"qwen3 decode at 1000", 32, 4, 128, KvStorage::kF16, PromptRows(1000, 1)},
      {"qwen3 decode at 4100 (32 splits)", 32, 4, 128, KvStorage::kF16, PromptRows(4100, 1)},
      {"minimax decode at 2999", 48, 8, 128, KvStorage::kF16, PromptRows(2999, 1)},
      {"minimax decode at 9000, f32 cache", 48, 8, 128, KvStorage::kF32, PromptRows(9000, 1)},
      {"qwen3 prompt of 20 at 0", 32, 4, 128, KvStorage::kF16, PromptRows(0, 20)},
      {"minimax prompt of 9 at 300, f32", 48, 8, 128, KvStorage::kF32, PromptRows(300, 9)},
      {"minimax prompt of 64 at 5000", 48, 8, 128, KvStorage::kF16, PromptRows(5000, 64)},
      {"odd: 6/2 heads x 80, f32", 6, 2, 80, KvStorage::kF32, PromptRows(5, 3)},
      {"odd: MHA 3/3 x 64", 3, 3, 64, KvStorage::kF16, PromptRows(129, 2)},
      {"qwen3 batch of 3 sequences at 0, 700, 37", 32, 4, 128, KvStorage::kF16, DecodeRows({0, 700, 37})},
      {"minimax batch of 8 sequences, f32", 48, 8, 128, KvStorage::kF32,
       DecodeRows({5, 4000, 63, 64, 1, 999, 2500, 128})},
  };
  uint32_t seed = 700;
  for (const AttentionCase& c : cases) {
    const int64_t n_ctx = c.rows.ctx_bound(), n_seq = c.rows.n_seq(), kv_dim = c.n_kv_head * c.head_dim;
    const int64_t layers = 2, layer = 1, n_rows = c.rows.n();
    const KvShape shape{layers, n_ctx, c.n_kv_head, c.head_dim, c.storage, n_seq};
    // Layer 0 holds other values, and so does each sequence, so a kernel reading the wrong
    // layer or sequence fails.
    const std::vector<float> k0 = RandomFloats(n_ctx * kv_dim, ++seed, -2.0f, 2.0f);
    std::vector<std::vector<float>> k, v;
    for (int64_t s = 0; s < n_seq; ++s) {
      k.push_back(RandomFloats(n_ctx * kv_dim, ++seed, -2.0f, 2.0f));
      v.push_back(RandomFloats(n_ctx * kv_dim, ++seed));
    }
    const std::vector<float> q = RandomFloats(n_rows * c.n_head * c.head_dim, ++seed, -2.0f, 2.0f);
    const int64_t q_n = n_rows * c.n_head * c.head_dim;

    CpuBackend cpu = MakeCpu();
    ASSERT_TRUE(cpu.CreateKvCache(shape).ok());
    for (int64_t s = 0; s < n_seq; ++s) {
      cpu.StoreKv(0, s, 0, n_ctx, k0.data(), k0.data());
      cpu.StoreKv(layer, s, 0, n_ctx, k[s].data(), v[s].data());
    }
    std::vector<float> want(static_cast<size_t>(q_n));
    cpu.Attention(layer, q.data(), c.n_head, c.rows.On(c.rows.seq.data(), c.rows.pos.data()), want.data());

    auto gpu = MakeCudaBackend();
    ASSERT_TRUE(gpu);
    ASSERT_TRUE(gpu->CreateKvCache(shape).ok());
    const float* d_k0 = ToDevice(*gpu, k0);
    for (int64_t s = 0; s < n_seq; ++s) {
      gpu->StoreKv(0, s, 0, n_ctx, d_k0, d_k0);
      // The positions before the first row in one call, the rest in another (like a decode).
      const int64_t split = c.rows.pos[0];
      const float* d_k = ToDevice(*gpu, k[s]);
      const float* d_v = ToDevice(*gpu, v[s]);
      gpu->StoreKv(layer, s, 0, split, d_k, d_v);
      gpu->StoreKv(layer, s, split, n_ctx - split, d_k + split * kv_dim, d_v + split * kv_dim);
    }
    float* d_out = PoisonedDevice<float>(*gpu, q_n);
    const RowPlaces places = c.rows.On(ToDevice(*gpu, c.rows.seq), ToDevice(*gpu, c.rows.pos));
    gpu->Attention(layer, ToDevice(*gpu, q), c.n_head, places, d_out);
    const double err = NormalisedError(want, FromDevice(*gpu, d_out, q_n));
    const std::string name = Shape(c.what, {n_rows, c.n_head, c.head_dim});
    Report("attention", name, err, kSumOrderBound);
    EXPECT_LE(err, kSumOrderBound) << name;
  }
}

// A decode step's attention in two halves around q's and k's RMS scales (minimax-m2's
// whole-projection norm): the GPU's AttentionScores and AttentionFromScores against the
// CPU's, and both against the usual path (the scaled key stored, Attention of the scaled
// q). Then Attention of another q at the same places reads the key the second half
// stored. Splits from 1 to 256 (positions 0 to 9000), a rank's share of heads of 2 and
// 3 ranks, odd shapes.
TEST(CudaOps, AttentionAroundQkScalesMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const AttentionCase cases[] = {
      {"minimax decode, 1st position", 48, 8, 128, KvStorage::kF16, DecodeRows({0})},
      {"minimax decode at 31 and 32 (a split's edge)", 48, 8, 128, KvStorage::kF16, DecodeRows({31, 32})},
      {"minimax rank of 2 at 2999", 24, 4, 128, KvStorage::kF16, DecodeRows({2999})},
      {"minimax rank of 3 at 9000, f32 cache", 18, 3, 128, KvStorage::kF32, DecodeRows({9000})},
      {"minimax rank of 3 (2 KV heads), batch of 8", 12, 2, 128, KvStorage::kF16,
       DecodeRows({5, 4000, 63, 64, 1, 999, 2500, 128})},
      {"odd: 6/2 heads x 80, f32", 6, 2, 80, KvStorage::kF32, DecodeRows({7, 300})},
  };
  uint32_t seed = 730;
  for (const AttentionCase& c : cases) {
    const int64_t hd = c.head_dim, kv_dim = c.n_kv_head * hd, layer = 1, n_rows = c.rows.n();
    const int64_t n_ctx = c.rows.ctx_bound() + 3, n_seq = c.rows.n_seq();
    const KvShape shape{2, n_ctx, c.n_kv_head, hd, c.storage, n_seq};
    std::vector<std::vector<float>> k, v;
    for (int64_t s = 0; s < n_seq; ++s) {
      k.push_back(RandomFloats(n_ctx * kv_dim, ++seed, -2.0f, 2.0f));
      v.push_back(RandomFloats(n_ctx * kv_dim, ++seed));
    }
    const int64_t q_n = n_rows * c.n_head * hd, scores_n = n_rows * c.n_head * n_ctx;
    const std::vector<float> q = RandomFloats(q_n, ++seed, -2.0f, 2.0f);
    const std::vector<float> q_after = RandomFloats(q_n, ++seed, -2.0f, 2.0f);
    const std::vector<float> k_new = RandomFloats(n_rows * kv_dim, ++seed, -2.0f, 2.0f);
    // Sums of squares of the whole model's q and k rows (totals of 6144 and 1024 values):
    // scales from about 0.5 to 2.
    const int64_t q_total = 6144, k_total = 1024;
    std::vector<float> sums = RandomFloats(2 * n_rows, ++seed, 0.25f, 4.0f);
    for (int64_t t = 0; t < n_rows; ++t) sums[t] *= q_total, sums[n_rows + t] *= k_total;
    const float eps = 1e-6f;

    auto fill = [&](Backend& b, auto upload) {
      for (int64_t s = 0; s < n_seq; ++s) b.StoreKv(layer, s, 0, n_ctx, upload(k[s]), upload(v[s]));
    };
    auto host = [](const std::vector<float>& x) { return x.data(); };
    const RowPlaces cpu_rows = c.rows.On(c.rows.seq.data(), c.rows.pos.data());
    CpuBackend cpu = MakeCpu();
    ASSERT_TRUE(cpu.CreateKvCache(shape).ok());
    fill(cpu, host);
    std::vector<float> scores(static_cast<size_t>(scores_n)), want(q_n), want_after(q_n);
    cpu.AttentionScores(layer, q.data(), c.n_head, cpu_rows, scores.data());
    cpu.AttentionFromScores(layer, q.data(), k_new.data(), c.n_head, cpu_rows,
                            QkScales{sums.data(), q_total, k_total, eps}, scores.data(), want.data());
    cpu.Attention(layer, q_after.data(), c.n_head, cpu_rows, want_after.data());

    // The usual path on the CPU: q and k scaled first, the key stored, one attention.
    CpuBackend fused = MakeCpu();
    ASSERT_TRUE(fused.CreateKvCache(shape).ok());
    fill(fused, host);
    std::vector<float> q_scaled(q_n), k_scaled(k_new.size()), want_fused(q_n);
    for (int64_t t = 0; t < n_rows; ++t) {
      const int64_t q_row = t * c.n_head * hd;
      RmsNormApply(q.data() + q_row, nullptr, c.n_head * hd, sums[t], q_total, eps, q_scaled.data() + q_row);
      RmsNormApply(k_new.data() + t * kv_dim, nullptr, kv_dim, sums[n_rows + t], k_total, eps,
                   k_scaled.data() + t * kv_dim);
    }
    for (int64_t t = 0; t < n_rows; ++t) {
      const int64_t s = c.rows.seq[t], p = c.rows.pos[t];
      fused.StoreKv(layer, s, p, 1, k_scaled.data() + t * kv_dim, v[s].data() + p * kv_dim);
    }
    fused.Attention(layer, q_scaled.data(), c.n_head, cpu_rows, want_fused.data());

    auto gpu = MakeCudaBackend();
    ASSERT_TRUE(gpu);
    ASSERT_TRUE(gpu->CreateKvCache(shape).ok());
    fill(*gpu, [&](const std::vector<float>& x) { return ToDevice(*gpu, x); });
    const RowPlaces gpu_rows = c.rows.On(ToDevice(*gpu, c.rows.seq), ToDevice(*gpu, c.rows.pos));
    const float* d_q = ToDevice(*gpu, q);
    float* d_scores = PoisonedDevice<float>(*gpu, scores_n);
    float* d_out = PoisonedDevice<float>(*gpu, q_n);
    float* d_after = PoisonedDevice<float>(*gpu, q_n);
    gpu->AttentionScores(layer, d_q, c.n_head, gpu_rows, d_scores);
    gpu->AttentionFromScores(layer, d_q, ToDevice(*gpu, k_new), c.n_head, gpu_rows,
                             QkScales{ToDevice(*gpu, sums), q_total, k_total, eps}, d_scores, d_out);
    gpu->Attention(layer, ToDevice(*gpu, q_after), c.n_head, gpu_rows, d_after);

    const std::vector<float> got = FromDevice(*gpu, d_out, q_n);
    const std::string name = Shape(c.what, {n_rows, c.n_head, hd});
    const double err = NormalisedError(want, got);
    const double fused_err = NormalisedError(want_fused, got);
    const double after_err = NormalisedError(want_after, FromDevice(*gpu, d_after, q_n));
    Report("halves", name, err, kSumOrderBound);
    Report("vs fused", name, fused_err, kSumOrderBound);
    Report("key read", name, after_err, kSumOrderBound);
    EXPECT_LE(err, kSumOrderBound) << name;
    EXPECT_LE(fused_err, kSumOrderBound) << name << ": the two halves are not the usual attention";
    EXPECT_LE(after_err, kSumOrderBound) << name << ": the stored key differs";
  }
}

// The fused per-head norm + RoPE + KV store against RmsNorm, Rope and StoreKv on the CPU:
// q and k as returned, then attention of the new tokens over the cache it wrote (earlier
// positions stored beforehand), which reads back the stored k and v.
TEST(CudaOps, HeadNormRopeStoreMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  enum class Norm { kNone, kPerHead, kWhole, kWholeWeightsOnly };
  struct Case {
    const char* what;
    int64_t n_head, n_kv_head, head_dim, n_rot;
    Norm norm;
    bool yarn;
    KvStorage storage;
    Rows rows;
  };
  const Case cases[] = {
      {"qwen3 per-head norms, decode at 37", 32, 4, 128, 128, Norm::kPerHead, false, KvStorage::kF16,
       PromptRows(37, 1)},
      {"qwen3 per-head norms, prompt of 9 at 0", 32, 4, 128, 128, Norm::kPerHead, false, KvStorage::kF16,
       PromptRows(0, 9)},
      {"minimax no norms, n_rot 64, 3 at 1000, f32", 48, 8, 128, 64, Norm::kNone, false, KvStorage::kF32,
       PromptRows(1000, 3)},
      {"minimax whole norm by sums, n_rot 64, 5 at 70", 48, 8, 128, 64, Norm::kWhole, false, KvStorage::kF16,
       PromptRows(70, 5)},
      {"minimax rank of 3, whole norm, batch of 3", 18, 3, 128, 64, Norm::kWhole, false, KvStorage::kF16,
       DecodeRows({9, 0, 300})},
      {"minimax rank of 2, norm weights only, batch of 2", 24, 4, 128, 64, Norm::kWholeWeightsOnly, false,
       KvStorage::kF32, DecodeRows({31, 2})},
      {"odd: 6/2 x 80, n_rot 32, YaRN, norms", 6, 2, 80, 32, Norm::kPerHead, true, KvStorage::kF16, PromptRows(5, 2)},
      {"qwen3 batch of 4 sequences at 40, 3, 0, 90", 32, 4, 128, 128, Norm::kPerHead, false, KvStorage::kF16,
       DecodeRows({40, 3, 0, 90})},
  };
  uint32_t seed = 750;
  for (const Case& c : cases) {
    RopeParams rope;
    rope.freq_base = 1e6f;
    rope.n_rot = c.n_rot;
    if (c.yarn) {
      rope.yarn.factor = 4.0f;
      rope.yarn.original_context = 4096;
      rope.yarn.ext_factor = 1.0f;
    }
    const int64_t n_ctx = c.rows.ctx_bound(), n_seq = c.rows.n_seq(), n_rows = c.rows.n();
    const int64_t hd = c.head_dim, kv_dim = c.n_kv_head * hd, layer = 1;
    const KvShape shape{2, n_ctx, c.n_kv_head, hd, c.storage, n_seq};
    // Each sequence's positions before its first row, stored beforehand.
    const std::vector<float> k_before = RandomFloats(n_ctx * kv_dim, ++seed, -2.0f, 2.0f);
    const std::vector<float> v_before = RandomFloats(n_ctx * kv_dim, ++seed);
    const std::vector<float> q = RandomFloats(n_rows * c.n_head * hd, ++seed, -2.0f, 2.0f);
    const std::vector<float> k = RandomFloats(n_rows * kv_dim, ++seed, -2.0f, 2.0f);
    const std::vector<float> v = RandomFloats(n_rows * kv_dim, ++seed);
    // Per head: weights [head_dim]; whole: the rank's slice of [every head's head_dim], with
    // each row's sums of squares over the whole model's values (3 ranks' worth here).
    const bool whole = c.norm == Norm::kWhole || c.norm == Norm::kWholeWeightsOnly;
    const int64_t q_w = whole ? c.n_head * hd : hd, k_w = whole ? kv_dim : hd;
    const std::vector<float> q_norm = RandomFloats(q_w, ++seed, 0.5f, 1.5f);
    const std::vector<float> k_norm = RandomFloats(k_w, ++seed, 0.5f, 1.5f);
    const int64_t q_total = 3 * c.n_head * hd, k_total = 3 * kv_dim;
    std::vector<float> sums = RandomFloats(2 * n_rows, ++seed, 0.25f, 4.0f);
    for (int64_t t = 0; t < n_rows; ++t) sums[t] *= q_total, sums[n_rows + t] *= k_total;
    const int64_t q_n = static_cast<int64_t>(q.size()), k_n = static_cast<int64_t>(k.size());

    CpuBackend cpu = MakeCpu();
    ASSERT_TRUE(cpu.CreateKvCache(shape).ok());
    for (int64_t s = 0; s < n_seq; ++s) cpu.StoreKv(layer, s, 0, n_ctx, k_before.data(), v_before.data());
    std::vector<float> want_q = q, want_k = k;
    // The norm as each side sees it: weights and sums in its own memory.
    auto norm_on = [&](auto place) {
      QkNorm norm{WeightVector{}, WeightVector{}, whole, QkScales{.eps = 1e-6f}};
      if (c.norm == Norm::kNone) return norm;
      norm.q = WeightVector{place(q_norm), q_w};
      norm.k = WeightVector{place(k_norm), k_w};
      if (c.norm == Norm::kWhole) norm.scales = QkScales{place(sums), q_total, k_total, 1e-6f};
      return norm;
    };
    const RowPlaces cpu_rows = c.rows.On(c.rows.seq.data(), c.rows.pos.data());
    cpu.HeadNormRopeStore(layer, rope, norm_on([](const std::vector<float>& x) { return x.data(); }), want_q.data(),
                          want_k.data(), v.data(), c.n_head, c.n_kv_head, hd, cpu_rows);
    std::vector<float> want_attn(static_cast<size_t>(q_n));
    cpu.Attention(layer, want_q.data(), c.n_head, cpu_rows, want_attn.data());

    auto gpu = MakeCudaBackend();
    ASSERT_TRUE(gpu);
    ASSERT_TRUE(gpu->CreateKvCache(shape).ok());
    const float* d_k_before = ToDevice(*gpu, k_before);
    const float* d_v_before = ToDevice(*gpu, v_before);
    for (int64_t s = 0; s < n_seq; ++s) gpu->StoreKv(layer, s, 0, n_ctx, d_k_before, d_v_before);
    float* d_q = ToDevice(*gpu, q);
    float* d_k = ToDevice(*gpu, k);
    const QkNorm gpu_norm = norm_on([&](const std::vector<float>& x) -> const float* { return ToDevice(*gpu, x); });
    const RowPlaces gpu_rows = c.rows.On(ToDevice(*gpu, c.rows.seq), ToDevice(*gpu, c.rows.pos));
    gpu->HeadNormRopeStore(layer, rope, gpu_norm, d_q, d_k, ToDevice(*gpu, v), c.n_head, c.n_kv_head, hd, gpu_rows);
    float* d_attn = PoisonedDevice<float>(*gpu, q_n);
    gpu->Attention(layer, d_q, c.n_head, gpu_rows, d_attn);

    const std::string name = Shape(c.what, {n_rows, c.n_head, hd});
    const double q_err = NormalisedError(want_q, FromDevice(*gpu, d_q, q_n));
    const double k_err = NormalisedError(want_k, FromDevice(*gpu, d_k, k_n));
    const double attn_err = NormalisedError(want_attn, FromDevice(*gpu, d_attn, q_n));
    Report("head q", name, q_err, kRopeBound);
    Report("head k", name, k_err, kRopeBound);
    Report("head attn", name, attn_err, kSumOrderBound);
    EXPECT_LE(q_err, kRopeBound) << name;
    EXPECT_LE(k_err, kRopeBound) << name;
    EXPECT_LE(attn_err, kSumOrderBound) << name;
  }
}

// --- router -------------------------------------------------------------------------------

TEST(CudaOps, RouteMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  struct Case {
    const char* what;
    int64_t n_expert, k, n_tokens;
    bool sigmoid, norm, bias, ties;
    float scale;
  };
  const Case cases[] = {
      {"qwen3 softmax 128 top 8, renorm", 128, 8, 1, false, true, false, false, 1.0f},
      {"qwen3 softmax, 13 tokens", 128, 8, 13, false, true, false, false, 1.0f},
      {"softmax without renorm", 128, 8, 4, false, false, false, false, 1.0f},
      {"minimax sigmoid 256 top 8 + bias, scale 2.5", 256, 8, 1, true, true, true, false, 2.5f},
      {"minimax sigmoid, 9 tokens", 256, 8, 9, true, true, true, false, 1.0f},
      {"ties: softmax 60 top 5 over 4 levels", 60, 5, 6, false, true, false, true, 1.0f},
      {"ties: sigmoid 64 top 6, no bias", 64, 6, 6, true, true, false, true, 1.0f},
      {"odd: 3 experts top 3", 3, 3, 2, false, true, false, false, 1.0f},
  };
  uint32_t seed = 800;
  for (const Case& c : cases) {
    std::vector<float> logits = RandomFloats(c.n_tokens * c.n_expert, ++seed, -4.0f, 4.0f);
    if (c.ties) {
      const float levels[] = {-1.0f, 0.0f, 0.5f, 2.0f};
      std::mt19937 rng(++seed);
      for (float& l : logits) l = levels[rng() % 4];
    }
    const std::vector<float> bias = RandomFloats(c.n_expert, ++seed, -0.1f, 0.1f);
    RouterParams r;
    r.n_expert = c.n_expert;
    r.n_used = c.k;
    r.sigmoid = c.sigmoid;
    r.norm_topk = c.norm;
    r.weights_scale = c.scale;
    r.bias = c.bias ? bias.data() : nullptr;
    CpuBackend cpu = MakeCpu();
    const int64_t n_out = c.n_tokens * c.k;
    std::vector<int32_t> want_ids(static_cast<size_t>(n_out));
    std::vector<float> want_w(static_cast<size_t>(n_out));
    cpu.Route(r, logits.data(), c.n_tokens, want_ids.data(), want_w.data());

    auto gpu = MakeCudaBackend();
    ASSERT_TRUE(gpu);
    r.bias = c.bias ? ToDevice(*gpu, bias) : nullptr;
    int32_t* d_ids = PoisonedDevice<int32_t>(*gpu, n_out);
    float* d_w = PoisonedDevice<float>(*gpu, n_out);
    gpu->Route(r, ToDevice(*gpu, logits), c.n_tokens, d_ids, d_w);
    const std::vector<int32_t> ids = FromDevice(*gpu, d_ids, n_out);
    const double err = NormalisedError(want_w, FromDevice(*gpu, d_w, n_out));
    const std::string name = Shape(c.what, {c.n_tokens, c.n_expert});
    Report("route", name + (ids == want_ids ? " ids equal" : " IDS DIFFER"), err, kRouterBound);
    EXPECT_EQ(ids, want_ids) << name;
    EXPECT_LE(err, kRouterBound) << name;
  }
}

// --- MoE experts ----------------------------------------------------------------------------

// A layer's experts as the engine binds them: a full model's n_expert_total experts of
// n_ff_total rows, of which the rank holds experts [expert_begin, + n_expert) and FFN rows
// [ff_begin, + n_ff) (gate/up row slices; down column slices, repacked by PlaceWeights).
struct MoeCase {
  const char* what;
  GgmlType gate_type, down_type;
  int64_t n_embd, n_ff_total, n_expert_total, k;
  int64_t expert_begin, n_expert, ff_begin, n_ff;
  std::vector<int64_t> token_counts;
};

TEST(CudaOps, MoeExpertsMatchCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const MoeCase cases[] = {
      {"qwen3 Q8_0, experts 64..95 of 128 held", GgmlType::Q8_0, GgmlType::Q8_0, 2048, 768, 128, 8, 64, 32, 0, 768,
       {1, 3, 8, 13}},
      {"minimax Q8_0, experts 128..139 of 256 held", GgmlType::Q8_0, GgmlType::Q8_0, 3072, 1536, 256, 8, 128, 12, 0,
       1536, {1, 8}},
      {"qwen3 Q4_K/Q6_K, 6 experts top 2", GgmlType::Q4_K, GgmlType::Q6_K, 2048, 768, 6, 2, 0, 6, 0, 768, {1, 8, 11}},
      {"minimax Q3_K/Q4_K expert-TP rows 512..1023", GgmlType::Q3_K, GgmlType::Q4_K, 3072, 1536, 4, 2, 0, 4, 512, 512,
       {1, 5}},
      {"odd IQ4_XS/Q5_K, 5 of 8 experts, top 3", GgmlType::IQ4_XS, GgmlType::Q5_K, 256, 512, 8, 3, 3, 5, 256, 256,
       {1, 2, 9}},
  };
  uint32_t seed = 900;
  for (const MoeCase& c : cases) {
    const int64_t held = c.n_expert;
    const auto blocks = [&](GgmlType type, int64_t rows, int64_t cols) {
      return type == GgmlType::Q8_0 ? RandomQ8Blocks(static_cast<uint64_t>(rows * cols / 32), ++seed)
                                    : QuantizedRows(type, rows, cols, ++seed);
    };
    // The held experts' full matrices (n_ff_total rows of gate/up, n_ff_total cols of down).
    const std::vector<uint8_t> gate = blocks(c.gate_type, held * c.n_ff_total, c.n_embd);
    const std::vector<uint8_t> up = blocks(c.gate_type, held * c.n_ff_total, c.n_embd);
    const std::vector<uint8_t> down = blocks(c.down_type, held * c.n_embd, c.n_ff_total);
    LayerWeights lw;
    const auto experts = [&](GgmlType type, const std::vector<uint8_t>& data, int64_t rows, int64_t cols) {
      ExpertMatrices e;
      e.first = WeightMatrix::Contiguous(type, data.data(), rows, cols);
      e.n_expert = held;
      e.expert_stride = static_cast<uint64_t>(rows) * e.first.row_bytes();
      return e;
    };
    lw.gate_exps = experts(c.gate_type, gate, c.n_ff_total, c.n_embd);
    lw.up_exps = experts(c.gate_type, up, c.n_ff_total, c.n_embd);
    lw.down_exps = experts(c.down_type, down, c.n_embd, c.n_ff_total);
    lw.gate_exps.first = lw.gate_exps.first.Rows(c.ff_begin, c.n_ff);
    lw.up_exps.first = lw.up_exps.first.Rows(c.ff_begin, c.n_ff);
    auto cols = lw.down_exps.first.Columns(c.ff_begin, c.n_ff);
    ASSERT_TRUE(cols.ok()) << cols.status().message();
    lw.down_exps.first = *cols;
    const ExpertShape shape{c.expert_begin, c.n_expert, c.n_ff, c.n_embd, c.k};

    for (ActivationRounding mode : kActivationModes) {
      auto gpu = MakeCudaBackend(mode);
      ASSERT_TRUE(gpu);
      ModelWeights mw;
      mw.layers.push_back(lw);
      auto placed = gpu->PlaceWeights(mw);
      ASSERT_TRUE(placed.ok()) << placed.status().message();

      for (int64_t n_tokens : c.token_counts) {
        // Routing: each token's k distinct experts of the model, about half of them held.
        std::mt19937 rng(++seed);
        std::vector<int32_t> ids;
        for (int64_t t = 0; t < n_tokens; ++t) {
          std::vector<int32_t> mine;
          while (static_cast<int64_t>(mine.size()) < c.k) {
            const bool pick_held = rng() % 2 == 0;
            const int32_t e = static_cast<int32_t>(pick_held ? c.expert_begin + rng() % c.n_expert
                                                             : rng() % c.n_expert_total);
            if (std::find(mine.begin(), mine.end(), e) == mine.end()) mine.push_back(e);
          }
          ids.insert(ids.end(), mine.begin(), mine.end());
        }
        const std::vector<float> weights = RandomFloats(n_tokens * c.k, ++seed, 0.05f, 0.5f);
        const std::vector<float> x = RandomFloats(n_tokens * c.n_embd, ++seed);

        CpuBackend cpu = MakeCpu(mode == ActivationRounding::kLikeGgml);
        std::vector<float> want(static_cast<size_t>(n_tokens * c.n_embd));
        cpu.MoeExperts(lw, shape, x.data(), n_tokens, ids.data(), weights.data(), want.data());

        float* d_out = PoisonedDevice<float>(*gpu, n_tokens * c.n_embd);
        gpu->MoeExperts(placed->layers[0], shape, ToDevice(*gpu, x), n_tokens, ToDevice(*gpu, ids),
                        ToDevice(*gpu, weights), d_out);
        const double err = NormalisedError(want, FromDevice(*gpu, d_out, n_tokens * c.n_embd));
        const std::string name =
            std::string(c.what) + ", " + std::to_string(n_tokens) + " tokens, " + ModeName(mode);
        const double bound = mode == ActivationRounding::kNone ? kSumOrderBound : kInt8FlipBound;
        Report("moe", name, err, bound);
        EXPECT_LE(err, bound) << name;
      }
    }
  }
}

// A failed op is kept and reported by the next Download with the op's name.
// The emulated link's delay (bench decode --emulate-link-us) holds its stream at least as
// long as asked, and not grossly longer.
TEST(CudaOps, SpinDelayHoldsTheStream) {
  SKIP_WITHOUT_CUDA_DEVICE();
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  cudaEvent_t start = nullptr, stop = nullptr;
  ASSERT_EQ(cudaEventCreate(&start), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&stop), cudaSuccess);
  for (int64_t us : {5, 20, 200}) {
    ASSERT_EQ(SpinDelay(us * 1000, stream), cudaSuccess);  // warm
    ASSERT_EQ(cudaEventRecord(start, stream), cudaSuccess);
    ASSERT_EQ(SpinDelay(us * 1000, stream), cudaSuccess);
    ASSERT_EQ(cudaEventRecord(stop, stream), cudaSuccess);
    ASSERT_EQ(cudaEventSynchronize(stop), cudaSuccess);
    float ms = 0;
    ASSERT_EQ(cudaEventElapsedTime(&ms, start, stop), cudaSuccess);
    std::printf("  spin delay %lld us: %.1f us\n", static_cast<long long>(us), 1e3 * ms);
    EXPECT_GE(1e3 * ms, 0.95 * static_cast<double>(us)) << us << " us";
    EXPECT_LE(1e3 * ms, 2.0 * static_cast<double>(us) + 20.0) << us << " us";
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);
}

TEST(CudaOps, ErrorsSurfaceAtDownload) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto gpu = MakeCudaBackend();
  ASSERT_TRUE(gpu);
  ASSERT_TRUE(gpu->CreateKvCache(KvShape{1, 4, 1, 64, KvStorage::kF16}).ok());
  float* d = PoisonedDevice<float>(*gpu, 64);
  gpu->StoreKv(0, 0, 3, 2, d, d);  // positions 3..4 of a 4-position cache
  float host[1];
  const Status st = gpu->Download(d, host, sizeof host);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("store kv"), std::string::npos) << st.message();
}

// What does not fit in device memory is refused up front with the memory plan and a fix.
TEST(CudaOps, KvCacheTooLargeForTheDeviceIsRefused) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto gpu = MakeCudaBackend();
  ASSERT_TRUE(gpu);
  const Status st = gpu->CreateKvCache(KvShape{62, int64_t{1} << 22, 8, 128, KvStorage::kF16});  // 2 x 520 GB
  ASSERT_FALSE(st.ok());
  std::printf("  refused: %s\n", st.message().c_str());
  EXPECT_NE(st.message().find("free"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("--ctx"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace tandem
