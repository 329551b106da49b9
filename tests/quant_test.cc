// CPU quant reference: f16/bf16 conversions, block sizes, and per supported type the
// quantize -> dequantize error, DotRow against a double-precision dot, zero and outlier
// rows. Bit-exactness against ggml is dequant_oracle's job (tests/oracle/).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/block_formats.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quant.h"
#include "model/ggml_type.h"

namespace tandem {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// ---- f16 / bf16 conversions ----

struct HalfCase {
  const char* what;
  float f32;
  uint16_t bits;
};

// Exact in both directions.
constexpr HalfCase kF16Exact[] = {
    {"zero", 0.0f, 0x0000},
    {"negative zero", -0.0f, 0x8000},
    {"one", 1.0f, 0x3c00},
    {"minus two", -2.0f, 0xc000},
    {"largest finite", 65504.0f, 0x7bff},
    {"smallest normal", 0x1p-14f, 0x0400},
    {"smallest subnormal", 0x1p-24f, 0x0001},
    {"largest subnormal", 0x3ffp-24f, 0x03ff},
    {"negative subnormal", -0x155p-24f, 0x8155},
    {"inf", kInf, 0x7c00},
    {"minus inf", -kInf, 0xfc00},
};

// f32 -> f16 rounding: to nearest, ties to even, overflow to inf.
constexpr HalfCase kF16Rounding[] = {
    {"tie rounds down to even", 1.0f + 0x1p-11f, 0x3c00},
    {"tie rounds up to even", 1.0f + 0x3p-11f, 0x3c02},
    {"above tie rounds up", 1.0f + 0x1p-11f + 0x1p-20f, 0x3c01},
    {"below tie rounds down", 1.0f + 0x1p-11f - 0x1p-20f, 0x3c00},
    {"subnormal tie to even zero", 0x1p-25f, 0x0000},
    {"subnormal tie up to even", 0x3p-25f, 0x0002},
    {"subnormal tie down to even", 0x5p-25f, 0x0002},
    {"subnormal carries to normal", 0x1p-14f - 0x1p-25f, 0x0400},
    {"underflow to zero", 0x1p-26f, 0x0000},
    {"just below overflow tie", 65519.0f, 0x7bff},
    {"overflow tie to inf", 65520.0f, 0x7c00},
    {"overflow", 1e6f, 0x7c00},
    {"negative overflow", -1e6f, 0xfc00},
};

constexpr HalfCase kBf16Exact[] = {
    {"zero", 0.0f, 0x0000},        {"negative zero", -0.0f, 0x8000},
    {"one", 1.0f, 0x3f80},         {"minus three", -3.0f, 0xc040},
    {"inf", kInf, 0x7f80},         {"minus inf", -kInf, 0xff80},
    {"smallest subnormal", 0x1p-133f, 0x0001},
    {"largest finite", 0x1.fep127f, 0x7f7f},
};

constexpr HalfCase kBf16Rounding[] = {
    {"tie rounds down to even", 1.0f + 0x1p-8f, 0x3f80},
    {"tie rounds up to even", 1.0f + 0x3p-8f, 0x3f82},
    {"above tie rounds up", 1.0f + 0x1p-8f + 0x1p-20f, 0x3f81},
    {"subnormal tie to even", 0x1p-134f, 0x0000},
    {"overflow to inf", 0x1.ffp127f, 0x7f80},
};

TEST(Fp16, ExactValuesConvertBothWays) {
  for (const HalfCase& c : kF16Exact) {
    EXPECT_EQ(F32ToF16(c.f32), c.bits) << c.what;
    EXPECT_EQ(std::bit_cast<uint32_t>(F16ToF32(c.bits)), std::bit_cast<uint32_t>(c.f32)) << c.what;
  }
}

TEST(Fp16, RoundsToNearestEven) {
  for (const HalfCase& c : kF16Rounding) EXPECT_EQ(F32ToF16(c.f32), c.bits) << c.what;
}

TEST(Fp16, NanStaysNan) {
  EXPECT_TRUE(std::isnan(F16ToF32(0x7e00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0xfc01)));
  uint16_t h = F32ToF16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(h & 0x7c00, 0x7c00);
  EXPECT_NE(h & 0x03ff, 0);
}

TEST(Fp16, EveryFiniteHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0) continue;  // nan payloads need not survive
    ASSERT_EQ(F32ToF16(F16ToF32(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(Bf16, ExactValuesConvertBothWays) {
  for (const HalfCase& c : kBf16Exact) {
    EXPECT_EQ(F32ToBf16(c.f32), c.bits) << c.what;
    EXPECT_EQ(std::bit_cast<uint32_t>(Bf16ToF32(c.bits)), std::bit_cast<uint32_t>(c.f32)) << c.what;
  }
}

TEST(Bf16, RoundsToNearestEven) {
  for (const HalfCase& c : kBf16Rounding) EXPECT_EQ(F32ToBf16(c.f32), c.bits) << c.what;
}

TEST(Bf16, NanStaysNan) {
  EXPECT_TRUE(std::isnan(Bf16ToF32(0x7fc0)));
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(std::bit_cast<float>(0x7f800001u)))));  // payload below bf16's bits
}

TEST(Bf16, EveryFiniteBf16RoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7f80) == 0x7f80 && (h & 0x007f) != 0) continue;
    ASSERT_EQ(F32ToBf16(Bf16ToF32(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

// ---- block structs against the type table ----

TEST(BlockFormats, SizesMatchTypeTable) {
  EXPECT_EQ(sizeof(BlockQ4_0), TypeInfo(GgmlType::Q4_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_1), TypeInfo(GgmlType::Q4_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_0), TypeInfo(GgmlType::Q5_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_1), TypeInfo(GgmlType::Q5_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_0), TypeInfo(GgmlType::Q8_0).block_bytes);
  EXPECT_EQ(sizeof(BlockIq4Nl), TypeInfo(GgmlType::IQ4_NL).block_bytes);
  EXPECT_EQ(sizeof(BlockMxfp4), TypeInfo(GgmlType::MXFP4).block_bytes);
  EXPECT_EQ(sizeof(BlockQ2_K), TypeInfo(GgmlType::Q2_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ3_K), TypeInfo(GgmlType::Q3_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_K), TypeInfo(GgmlType::Q4_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_K), TypeInfo(GgmlType::Q5_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ6_K), TypeInfo(GgmlType::Q6_K).block_bytes);
  EXPECT_EQ(sizeof(BlockIq4Xs), TypeInfo(GgmlType::IQ4_XS).block_bytes);
  EXPECT_EQ(TypeInfo(GgmlType::Q4_K).block_size, static_cast<uint32_t>(kQK_K));
  EXPECT_EQ(TypeInfo(GgmlType::Q4_0).block_size, static_cast<uint32_t>(kQK));
}

// ---- every supported type ----

// Bound on the normalised RMS error ||dequant(quant(x)) - x|| / ||x|| for x ~ N(0, 1):
// the worst this quantizer measured over the row lengths below, plus 10-50% margin.
float ErrorBound(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return 0.0f;      // exact
    case GgmlType::F16: return 0.0003f;   // measured 0.00020
    case GgmlType::BF16: return 0.003f;   // measured 0.00202
    case GgmlType::Q8_0: return 0.008f;   // measured 0.0057
    case GgmlType::Q6_K: return 0.025f;   // measured 0.0191
    case GgmlType::Q5_0: return 0.055f;   // measured 0.0449
    case GgmlType::Q5_1: return 0.05f;    // measured 0.0378
    case GgmlType::Q5_K: return 0.05f;    // measured 0.0386
    case GgmlType::Q4_0: return 0.11f;    // measured 0.0927
    case GgmlType::Q4_1: return 0.10f;    // measured 0.0817
    case GgmlType::Q4_K: return 0.10f;    // measured 0.0814
    case GgmlType::IQ4_NL: return 0.10f;  // measured 0.0822
    case GgmlType::IQ4_XS: return 0.10f;  // measured 0.0823
    case GgmlType::MXFP4: return 0.15f;   // measured 0.1221
    case GgmlType::Q3_K: return 0.19f;    // measured 0.1580
    case GgmlType::Q2_K: return 0.36f;    // measured 0.3292 (min/max scales; no range search)
    default: return 0.0f;
  }
}

std::vector<float> NormalValues(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  return x;
}

// Row lengths to test: whole blocks, including rows that are not a multiple of 256
// (and, for the float types, not a multiple of 8: DotRow's tail).
std::vector<int64_t> RowLengths(GgmlType type) {
  std::vector<int64_t> lengths;
  for (int64_t n : {32, 96, 100, 256, 768, 4096}) {
    if (n % TypeInfo(type).block_size == 0) lengths.push_back(n);
  }
  return lengths;
}

std::vector<uint8_t> Quantize(GgmlType type, const std::vector<float>& x) {
  std::vector<uint8_t> q(RowBytes(type, x.size()));
  QuantizeRow(type, x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

std::vector<float> Dequantize(GgmlType type, const std::vector<uint8_t>& q, size_t n) {
  std::vector<float> y(n);
  DequantizeRow(type, q.data(), y.data(), static_cast<int64_t>(n));
  return y;
}

double NormalisedRmsError(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0.0, ref = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
    ref += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

class QuantTypeTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantTypeTest, QuantizeDequantizeErrorIsBounded) {
  const GgmlType type = GetParam();
  for (int64_t n : RowLengths(type)) {
    std::vector<float> x = NormalValues(n, 1234u + static_cast<uint32_t>(n));
    double nrmse = NormalisedRmsError(x, Dequantize(type, Quantize(type, x), n));
    std::printf("[ measured ] %-7s n=%-5lld nRMSE %.5f (bound %.4f)\n", TypeName(type).data(),
                static_cast<long long>(n), nrmse, ErrorBound(type));
    EXPECT_LE(nrmse, ErrorBound(type)) << "n=" << n;
  }
}

TEST_P(QuantTypeTest, DotRowMatchesDoubleDotOfDequantizedRow) {
  const GgmlType type = GetParam();
  for (int64_t n : RowLengths(type)) {
    std::vector<float> w = NormalValues(n, 77u + static_cast<uint32_t>(n));
    std::vector<float> x = NormalValues(n, 99u + static_cast<uint32_t>(n));
    std::vector<uint8_t> q = Quantize(type, w);
    std::vector<float> y = Dequantize(type, q, n);
    double exact = 0.0, magnitude = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      exact += static_cast<double>(y[i]) * x[i];
      magnitude += std::fabs(static_cast<double>(y[i]) * x[i]);
    }
    float dot = DotRow(type, q.data(), x.data(), n);
    EXPECT_NEAR(dot, exact, 1e-5 * magnitude) << "n=" << n;
  }
}

TEST_P(QuantTypeTest, AllZeroRowGivesZeros) {
  const GgmlType type = GetParam();
  const int64_t n = 512;
  std::vector<float> zeros(n, 0.0f);
  std::vector<uint8_t> q = Quantize(type, zeros);
  for (float v : Dequantize(type, q, n)) ASSERT_EQ(v, 0.0f);
  std::vector<float> x = NormalValues(n, 5u);
  EXPECT_EQ(DotRow(type, q.data(), x.data(), n), 0.0f);
}

// Outliers of 3e4 (a weight row with a few huge channels) stay finite, are themselves
// reproduced within the format's coarsest relative step, and leave no nan elsewhere.
TEST_P(QuantTypeTest, OutliersStayFiniteAndAreKept) {
  const GgmlType type = GetParam();
  const int64_t n = 1024;
  std::vector<float> x = NormalValues(n, 42u);
  const int64_t outliers[] = {3, 300, 555, 777};  // in different sub-blocks
  for (int64_t i : outliers) x[i] = (i % 2 ? -3e4f : 3e4f);
  std::vector<float> y = Dequantize(type, Quantize(type, x), n);
  for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(std::isfinite(y[i])) << "element " << i;
  for (int64_t i : outliers) EXPECT_NEAR(y[i], x[i], 0.25f * std::fabs(x[i])) << "element " << i;
}

// Values far beyond f16 range still give finite scales; F16 itself must store them as
// inf of the right sign (that is the format), and keep the other values finite.
TEST_P(QuantTypeTest, HugeValuesGiveFiniteScales) {
  const GgmlType type = GetParam();
  const int64_t n = 512;
  std::vector<float> x = NormalValues(n, 7u);
  x[10] = 1e30f;
  x[300] = -1e30f;
  std::vector<float> y = Dequantize(type, Quantize(type, x), n);
  for (int64_t i = 0; i < n; ++i) {
    if (type == GgmlType::F16 && (i == 10 || i == 300)) {
      ASSERT_TRUE(std::isinf(y[i]) && (y[i] > 0) == (i == 10)) << "element " << i << " = " << y[i];
    } else {
      ASSERT_TRUE(std::isfinite(y[i])) << "element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllSupported, QuantTypeTest, ::testing::ValuesIn(SupportedTypes()),
                         [](const ::testing::TestParamInfo<GgmlType>& info) {
                           return std::string(TypeName(info.param));
                         });

}  // namespace
}  // namespace tandem
