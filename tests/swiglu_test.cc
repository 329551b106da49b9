// SwiGLU against the double formula, including large |gate| where exp overflows in f32.
#include "kernels/cpu/swiglu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace tandem {
namespace {

double RefSwiGlu(double g, double u) { return g / (1.0 + std::exp(-g)) * u; }

void ExpectSwiGlu(const std::vector<float>& gate, const std::vector<float>& up) {
  std::vector<float> out(gate.size());
  SwiGlu(gate.data(), up.data(), static_cast<int64_t>(gate.size()), out.data());
  for (size_t i = 0; i < gate.size(); ++i) {
    const double ref = RefSwiGlu(gate[i], up[i]);
    ASSERT_TRUE(std::isfinite(out[i])) << "gate " << gate[i];
    ASSERT_LE(std::fabs(out[i] - ref), 1e-6 * std::fabs(ref) + 1e-35) << "gate " << gate[i] << " up " << up[i];
  }
}

TEST(SwiGluTest, SpecialValues) {
  const std::vector<float> gate = {0.0f, 1.0f, -1.0f, 0.5f, -3.0f, 20.0f, -20.0f, 88.0f, -88.0f,
                                   89.0f, -89.0f, 100.0f, -100.0f, 1e4f, -1e4f, 1e-30f, -1e-30f, 1e30f};
  std::vector<float> up(gate.size(), 1.5f);
  ExpectSwiGlu(gate, up);
  up.assign(gate.size(), -0.25f);
  ExpectSwiGlu(gate, up);
}

TEST(SwiGluTest, RandomOnExpertWidths) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (int64_t n : {1, 7, 768, 1536, 6144}) {
    SCOPED_TRACE(n);
    std::vector<float> gate(n), up(n);
    for (float& v : gate) v = normal(rng);
    for (float& v : up) v = normal(rng);
    ExpectSwiGlu(gate, up);
  }
}

TEST(SwiGluTest, InPlace) {
  std::vector<float> gate = {-2.0f, 0.5f, 3.0f};
  const std::vector<float> up = {1.0f, 2.0f, -1.0f};
  const std::vector<float> original = gate;
  SwiGlu(gate.data(), up.data(), 3, gate.data());
  for (size_t i = 0; i < gate.size(); ++i) EXPECT_NEAR(gate[i], RefSwiGlu(original[i], up[i]), 1e-6);
}

}  // namespace
}  // namespace tandem
