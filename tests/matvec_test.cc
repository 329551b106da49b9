// MatVec / MatMul for every supported weight type against a double-precision product
// over the DequantizeRow'd weights, on the expert and attention shapes of qwen3moe and
// minimax-m2 and on odd small ones, single- and multi-threaded.
#include "kernels/cpu/matvec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/quant.h"
#include "model/ggml_type.h"

namespace tandem {
namespace {

struct Shape {
  const char* what;
  int64_t rows;
  int64_t blocks_of_256;  // cols = 256 * this (a multiple of every block size)
};

constexpr Shape kShapes[] = {
    {"qwen3 expert gate/up 768x2048", 768, 8},
    {"qwen3 expert down 2048x768", 2048, 3},
    {"minimax expert gate/up 1536x3072", 1536, 12},
    {"minimax expert down 3072x1536", 3072, 6},
    {"one row, one block", 1, 1},
    {"seven rows", 7, 1},
    {"odd rows, five blocks", 13, 5},
};

struct Weights {
  std::vector<uint8_t> blocks;
  std::vector<float> dequant;  // [rows, cols]
};

Weights MakeWeights(GgmlType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const uint64_t row_bytes = RowBytes(type, cols);
  Weights w{std::vector<uint8_t>(rows * row_bytes), std::vector<float>(rows * cols)};
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = normal(rng);
    QuantizeRow(type, row.data(), w.blocks.data() + r * row_bytes, cols);
    DequantizeRow(type, w.blocks.data() + r * row_bytes, w.dequant.data() + r * cols, cols);
  }
  return w;
}

// |y - sum w*x| <= 2e-5 * sum |w*x|, in double.
void ExpectProduct(const Weights& w, int64_t rows, int64_t cols, const float* x, const float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    double ref = 0;
    double mag = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double term = static_cast<double>(w.dequant[r * cols + c]) * x[c];
      ref += term;
      mag += std::fabs(term);
    }
    ASSERT_LE(std::fabs(y[r] - ref), 2e-5 * mag + 1e-30) << "row " << r << " ref " << ref;
  }
}

TEST(MatVecTest, EveryTypeMatchesDoubleReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  ThreadPool pool(3);
  for (GgmlType type : SupportedTypes()) {
    for (const Shape& shape : kShapes) {
      SCOPED_TRACE(testing::Message() << TypeName(type) << " " << shape.what);
      const int64_t cols = 256 * shape.blocks_of_256;
      const Weights w = MakeWeights(type, shape.rows, cols, rng);
      std::vector<float> x(cols);
      for (float& v : x) v = normal(rng);
      std::vector<float> y1(shape.rows), y3(shape.rows);
      MatVec(type, w.blocks.data(), shape.rows, cols, x.data(), y1.data(), nullptr);
      MatVec(type, w.blocks.data(), shape.rows, cols, x.data(), y3.data(), &pool);
      ExpectProduct(w, shape.rows, cols, x.data(), y1.data());
      EXPECT_EQ(y1, y3) << "threads change the result";
    }
  }
}

TEST(MatMulTest, EveryTypeMatchesDotRowPerToken) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  ThreadPool pool(2);
  constexpr int64_t kTokens[] = {1, 3, 17};
  for (GgmlType type : SupportedTypes()) {
    for (const Shape& shape : {kShapes[1], kShapes[5], kShapes[6]}) {
      const int64_t cols = 256 * shape.blocks_of_256;
      const Weights w = MakeWeights(type, shape.rows, cols, rng);
      for (int64_t n_tokens : kTokens) {
        SCOPED_TRACE(testing::Message() << TypeName(type) << " " << shape.what << " tokens " << n_tokens);
        std::vector<float> x(n_tokens * cols);
        for (float& v : x) v = normal(rng);
        std::vector<float> y(n_tokens * shape.rows);
        MatMul(type, w.blocks.data(), shape.rows, cols, x.data(), n_tokens, y.data(), &pool);
        // Each token's product as DotRow gives it alone, bit for bit: a prompt batch decodes
        // each row once for all its tokens and must not change the sums.
        const uint64_t row_bytes = RowBytes(type, cols);
        std::vector<float> y_token(shape.rows);
        for (int64_t t = 0; t < n_tokens; ++t) {
          const float* y_t = y.data() + t * shape.rows;
          ExpectProduct(w, shape.rows, cols, x.data() + t * cols, y_t);
          for (int64_t r = 0; r < shape.rows; ++r) {
            y_token[r] = DotRow(type, w.blocks.data() + r * row_bytes, x.data() + t * cols, cols);
          }
          EXPECT_EQ(std::vector<float>(y_t, y_t + shape.rows), y_token) << "token " << t;
        }
      }
    }
  }
}

}  // namespace
}  // namespace tandem
