#include "model/synth/random_rows.h"

#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include "kernels/cpu/quant.h"

namespace tandem {
namespace {

// Above this many elements a tensor copies rows from a pool instead of drawing each.
constexpr int64_t kDirectElements = int64_t{1} << 22;
constexpr int64_t kPoolRows = 512;

// splitmix64: a small, fast generator whose output passes BigCrush; plenty for weights.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1].
  float Uniform() { return static_cast<float>((Next() >> 40) + 1) * 0x1p-24f; }

 private:
  uint64_t state_;
};

// Standard normal pairs by Box-Muller: ~4x faster than std::normal_distribution.
void DrawRow(Rng& rng, const RowSpec& spec, float scale, std::vector<float>& row) {
  for (size_t i = 0; i < row.size(); i += 2) {
    float radius = std::sqrt(-2.0f * std::log(rng.Uniform()));
    float angle = 2.0f * std::numbers::pi_v<float> * rng.Uniform();
    row[i] = (spec.mean + spec.stddev * radius * std::cos(angle)) * scale;
    if (i + 1 < row.size()) row[i + 1] = (spec.mean + spec.stddev * radius * std::sin(angle)) * scale;
  }
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
  Rng rng(spec.seed);
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
      std::memcpy(out, pool.data() + (rng.Next() % kPoolRows) * row_bytes, row_bytes);
    }
  }
}

}  // namespace tandem
