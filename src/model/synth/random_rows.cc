#include "model/synth/random_rows.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/quant.h"

namespace tandem {
namespace {

// Above this many elements a tensor copies rows from a pool instead of drawing each.
constexpr int64_t kDirectElements = int64_t{1} << 24;
constexpr int64_t kPoolRows = 512;

void DrawRow(std::mt19937_64& rng, const RowSpec& spec, float scale, std::vector<float>& row) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : row) v = (spec.mean + spec.stddev * normal(rng)) * scale;
}

float RowScale(const RowSpec& spec, int64_t r) {
  bool outlier = spec.outlier_period > 0 && r % spec.outlier_period < spec.outlier_count;
  return outlier ? spec.outlier_scale : 1.0f;
}

}  // namespace

uint64_t MixSeed(uint64_t seed, std::string_view name) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void FillRandomRows(const RowSpec& spec, std::span<uint8_t> dst) {
  const uint64_t row_bytes = RowBytes(spec.type, static_cast<uint64_t>(spec.row_len));
  std::mt19937_64 rng(spec.seed);
  std::vector<float> row(static_cast<size_t>(spec.row_len));
  if (spec.row_len * spec.rows <= kDirectElements) {
    for (int64_t r = 0; r < spec.rows; ++r) {
      DrawRow(rng, spec, RowScale(spec, r), row);
      QuantizeRow(spec.type, row.data(), dst.data() + r * row_bytes, spec.row_len);
    }
    return;
  }
  // Pool of rows (outlier rows drawn directly so their scale is right).
  std::vector<uint8_t> pool(kPoolRows * row_bytes);
  for (int64_t p = 0; p < kPoolRows; ++p) {
    DrawRow(rng, spec, 1.0f, row);
    QuantizeRow(spec.type, row.data(), pool.data() + p * row_bytes, spec.row_len);
  }
  for (int64_t r = 0; r < spec.rows; ++r) {
    uint8_t* out = dst.data() + r * row_bytes;
    float scale = RowScale(spec, r);
    if (scale != 1.0f) {
      DrawRow(rng, spec, scale, row);
      QuantizeRow(spec.type, row.data(), out, spec.row_len);
    } else {
      std::memcpy(out, pool.data() + (rng() % kPoolRows) * row_bytes, row_bytes);
    }
  }
}

}  // namespace tandem
