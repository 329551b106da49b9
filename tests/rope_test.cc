// NEOX RoPE against a direct double formula on the head layouts of qwen3moe (all 128
// dims rotated) and minimax-m2 (64 of 128): partial rotation leaves the tail alone,
// pair norms are kept, position 0 is the identity, and YaRN (ggml's rope_yarn) matches its
// formula in double and reduces to plain RoPE at factor 1.
#include "kernels/cpu/rope.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <vector>

namespace tandem {
namespace {

struct RopeCase {
  const char* what;
  int64_t n_heads;
  int64_t head_dim;
  RopeParams params;
};

RopeParams Plain(float base, int64_t n_rot) {
  RopeParams p;
  p.freq_base = base;
  p.n_rot = n_rot;
  return p;
}

RopeParams Yarn(float base, int64_t n_rot, float factor, int64_t original_context, float attn_factor) {
  RopeParams p = Plain(base, n_rot);
  p.yarn.factor = factor;
  p.yarn.original_context = original_context;
  p.yarn.attn_factor = attn_factor;
  p.yarn.ext_factor = 1.0f;
  return p;
}

const RopeCase kCases[] = {
    {"qwen3 q 32x128", 32, 128, Plain(1e6f, 128)},
    {"qwen3 k 4x128", 4, 128, Plain(1e6f, 128)},
    {"minimax q 48x128 rot 64", 48, 128, Plain(5e6f, 64)},
    {"minimax k 8x128 rot 64", 8, 128, Plain(5e6f, 64)},
    {"odd small: 3 heads of 10, rot 6", 3, 10, Plain(10000.0f, 6)},
    {"qwen3 yarn x4 from 32768", 4, 128, Yarn(1e6f, 128, 4.0f, 32768, 1.0f)},
    {"yarn x8 rot 64, attn factor", 2, 128, Yarn(5e6f, 64, 8.0f, 4096, 0.9f)},
};

constexpr int64_t kPositions[] = {0, 1, 7, 300, 4095, 40000};

// cos/sin (times mscale) of pair i at pos, in double, following ggml's rope_yarn.
void RefAngle(const RopeParams& p, int64_t pos, int64_t i, double* c, double* s) {
  const double theta_extrap = pos * std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
  const double freq_scale = 1.0 / p.yarn.factor;
  double theta = freq_scale * theta_extrap;
  double mscale = p.yarn.attn_factor;
  if (p.yarn.ext_factor != 0.0f) {
    auto corr_dim = [&](double n_turns) {
      return p.n_rot * std::log(p.yarn.original_context / (n_turns * 2 * std::numbers::pi)) /
             (2 * std::log(static_cast<double>(p.freq_base)));
    };
    const double low = std::max(0.0, std::floor(corr_dim(p.yarn.beta_fast)));
    const double high = std::min(p.n_rot - 1.0, std::ceil(corr_dim(p.yarn.beta_slow)));
    const double ramp = 1.0 - std::clamp((i - low) / std::max(0.001, high - low), 0.0, 1.0);
    const double mix = ramp * p.yarn.ext_factor;
    theta = theta * (1 - mix) + theta_extrap * mix;
    mscale *= 1.0 + 0.1 * std::log(1.0 / freq_scale);
  }
  *c = std::cos(theta) * mscale;
  *s = std::sin(theta) * mscale;
}

std::vector<float> RandomHeads(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  return x;
}

TEST(RopeTest, MatchesDoubleFormula) {
  std::mt19937 rng(1);
  for (const RopeCase& c : kCases) {
    for (int64_t pos : kPositions) {
      SCOPED_TRACE(testing::Message() << c.what << " pos " << pos);
      const std::vector<float> x = RandomHeads(c.n_heads * c.head_dim, rng);
      std::vector<float> y = x;
      Rope(c.params, y.data(), c.n_heads, c.head_dim, pos);
      const int64_t half = c.params.n_rot / 2;
      // f32 angles (ggml's recurrence) drift by about pos * 2^-22 radians.
      const double tol = 2e-6 + 3e-7 * pos;
      for (int64_t h = 0; h < c.n_heads; ++h) {
        const float* xh = x.data() + h * c.head_dim;
        const float* yh = y.data() + h * c.head_dim;
        for (int64_t i = 0; i < half; ++i) {
          double cs, sn;
          RefAngle(c.params, pos, i, &cs, &sn);
          const double a = xh[i], b = xh[i + half];
          const double norm = std::hypot(a, b);
          ASSERT_NEAR(yh[i], a * cs - b * sn, tol * norm) << "head " << h << " pair " << i;
          ASSERT_NEAR(yh[i + half], a * sn + b * cs, tol * norm) << "head " << h << " pair " << i;
        }
        for (int64_t d = c.params.n_rot; d < c.head_dim; ++d) ASSERT_EQ(yh[d], xh[d]) << "dim " << d;
      }
    }
  }
}

TEST(RopeTest, KeepsPairNormsAndPassesTailDims) {
  std::mt19937 rng(2);
  const RopeParams p = Plain(5e6f, 64);
  for (int64_t pos : kPositions) {
    const std::vector<float> x = RandomHeads(48 * 128, rng);
    std::vector<float> y = x;
    Rope(p, y.data(), 48, 128, pos);
    for (int64_t h = 0; h < 48; ++h) {
      for (int64_t i = 0; i < 32; ++i) {
        const int64_t a = h * 128 + i, b = a + 32;
        const double before = std::hypot(x[a], x[b]);
        ASSERT_NEAR(std::hypot(y[a], y[b]), before, 1e-6 * before + 1e-30) << "pos " << pos;
      }
      for (int64_t d = 64; d < 128; ++d) ASSERT_EQ(y[h * 128 + d], x[h * 128 + d]);
    }
  }
}

TEST(RopeTest, PositionZeroIsIdentity) {
  std::mt19937 rng(3);
  for (const RopeCase& c : kCases) {
    if (c.params.yarn.attn_factor != 1.0f || c.params.yarn.factor != 1.0f) continue;  // mscale != 1
    const std::vector<float> x = RandomHeads(c.n_heads * c.head_dim, rng);
    std::vector<float> y = x;
    Rope(c.params, y.data(), c.n_heads, c.head_dim, 0);
    EXPECT_EQ(y, x) << c.what;
  }
}

TEST(RopeTest, YarnFactorOneIsPlainRope) {
  std::mt19937 rng(4);
  const RopeParams plain = Plain(1e6f, 128);
  const RopeParams yarn = Yarn(1e6f, 128, 1.0f, 32768, 1.0f);
  for (int64_t pos : kPositions) {
    const std::vector<float> x = RandomHeads(4 * 128, rng);
    std::vector<float> a = x, b = x;
    Rope(plain, a.data(), 4, 128, pos);
    Rope(yarn, b.data(), 4, 128, pos);
    // ggml's mix theta * (1 - ramp) + theta * ramp may round theta by an ulp.
    const double tol = 1e-6 + 0x1p-22 * pos;
    for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(a[i], b[i], tol * (std::fabs(a[i]) + 1)) << "pos " << pos;
  }
}

}  // namespace
}  // namespace tandem
