#include "kernels/cpu/activation_rounding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/fp16.h"

namespace tandem {
namespace {

std::vector<float> Values(int64_t n) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng);
  return x;
}

// Every block of `block` values must be d * integers in [-127, 127], each within half a
// step of its input.
void ExpectEightBitGrid(const std::vector<float>& x, const std::vector<float>& y, int block, bool signed_max) {
  for (size_t b = 0; b < x.size(); b += block) {
    float amax = 0, max = 0;
    for (int i = 0; i < block; ++i) {
      if (std::fabs(x[b + i]) > amax) {
        amax = std::fabs(x[b + i]);
        max = x[b + i];
      }
    }
    // Q8_K puts the largest magnitude exactly on -127 steps; Q8_0 puts amax on 127 steps.
    const float step = signed_max ? std::fabs(max) / 127.0f : F16ToF32(F32ToF16(amax / 127.0f));
    // Q8_0 rounds with 127 / amax but stores d in f16: up to 127 x that difference more
    const float slack = 127.0f * std::fabs(step - amax / 127.0f);
    for (int i = 0; i < block; ++i) {
      float q = y[b + i] / step;
      EXPECT_NEAR(q, std::nearbyint(q), 2e-3) << "value " << b + i;
      EXPECT_LE(std::fabs(q), 127.5f);
      EXPECT_LE(std::fabs(y[b + i] - x[b + i]), 0.5f * step * 1.01f + slack + 1e-6f) << "value " << b + i;
    }
  }
}

TEST(ActivationRounding, KQuantWeightsUseQ8K) {
  std::vector<float> x = Values(512), y(512);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                     GgmlType::IQ4_XS}) {
    RoundActivationsLikeGgml(t, x.data(), 512, y.data());
    ExpectEightBitGrid(x, y, 256, true);
  }
}

TEST(ActivationRounding, LegacyAndFp4WeightsUseQ8_0) {
  std::vector<float> x = Values(256), y(256);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                     GgmlType::IQ4_NL, GgmlType::MXFP4}) {
    RoundActivationsLikeGgml(t, x.data(), 256, y.data());
    ExpectEightBitGrid(x, y, 32, false);
  }
}

TEST(ActivationRounding, FloatWeightsRoundToTheirFormatOrCopy) {
  std::vector<float> x = Values(64), y(64);
  RoundActivationsLikeGgml(GgmlType::F16, x.data(), 64, y.data());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(y[i], F16ToF32(F32ToF16(x[i])));
  RoundActivationsLikeGgml(GgmlType::BF16, x.data(), 64, y.data());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(y[i], Bf16ToF32(F32ToBf16(x[i])));
  RoundActivationsLikeGgml(GgmlType::F32, x.data(), 64, y.data());
  EXPECT_EQ(x, y);
  std::vector<float> zeros(256, 0.0f), out(256, 1.0f);
  RoundActivationsLikeGgml(GgmlType::Q4_K, zeros.data(), 256, out.data());
  EXPECT_EQ(out, zeros);
}

}  // namespace
}  // namespace tandem
