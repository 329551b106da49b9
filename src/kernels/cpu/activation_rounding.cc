#include "kernels/cpu/activation_rounding.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/fp16.h"

namespace tandem {
namespace {

// Q8_0 / Q8_1: per 32 values d = amax / 127 stored as f16, q = round-half-even(x * 127 / amax).
void RoundQ8_0(const float* x, int64_t n, float* out) {
  for (int64_t b = 0; b < n; b += 32) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b + i]));
    const float d = F16ToF32(F32ToF16(amax / 127.0f));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < 32; ++i) out[b + i] = d * std::nearbyint(x[b + i] * id);
  }
}

// Q8_K: per 256 values the signed value of largest magnitude maps to -127;
// d = 1 / iscale kept in f32; q = min(127, round-half-even(iscale * x)).
void RoundQ8_K(const float* x, int64_t n, float* out) {
  for (int64_t b = 0; b < n; b += 256) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < 256; ++i) {
      float ax = std::fabs(x[b + i]);
      if (ax > amax) {
        amax = ax;
        max = x[b + i];
      }
    }
    if (amax == 0.0f) {
      std::fill(out + b, out + b + 256, 0.0f);
      continue;
    }
    const float iscale = -127.0f / max;
    const float d = 1.0f / iscale;
    for (int i = 0; i < 256; ++i) out[b + i] = d * std::min(127.0f, std::nearbyint(iscale * x[b + i]));
  }
}

}  // namespace

void RoundActivationsLikeGgml(GgmlType weight_type, const float* x, int64_t n, float* out) {
  switch (weight_type) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
    case GgmlType::IQ4_XS:
      RoundQ8_K(x, n, out);
      return;
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q8_0:
    case GgmlType::IQ4_NL:
    case GgmlType::MXFP4:
      RoundQ8_0(x, n, out);
      return;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = F16ToF32(F32ToF16(x[i]));
      return;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = Bf16ToF32(F32ToBf16(x[i]));
      return;
    default:
      std::copy(x, x + n, out);
      return;
  }
}

}  // namespace tandem
