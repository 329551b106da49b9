// Per-type row functions behind quant.h's dispatch, and the few helpers their
// quantizers share. `n` is always a multiple of the type's block size.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cpu/fp16.h"

namespace tandem {

// Legacy 32-element blocks (quant_legacy.cc).
void DequantizeQ4_0(const void* src, float* dst, int64_t n);
void DequantizeQ4_1(const void* src, float* dst, int64_t n);
void DequantizeQ5_0(const void* src, float* dst, int64_t n);
void DequantizeQ5_1(const void* src, float* dst, int64_t n);
void DequantizeQ8_0(const void* src, float* dst, int64_t n);
void DequantizeIq4Nl(const void* src, float* dst, int64_t n);
void QuantizeQ4_0(const float* src, void* dst, int64_t n);
void QuantizeQ4_1(const float* src, void* dst, int64_t n);
void QuantizeQ5_0(const float* src, void* dst, int64_t n);
void QuantizeQ5_1(const float* src, void* dst, int64_t n);
void QuantizeQ8_0(const float* src, void* dst, int64_t n);
void QuantizeIq4Nl(const float* src, void* dst, int64_t n);

// K-quant 256-element super-blocks (quant_k.cc).
void DequantizeQ2_K(const void* src, float* dst, int64_t n);
void DequantizeQ3_K(const void* src, float* dst, int64_t n);
void DequantizeQ4_K(const void* src, float* dst, int64_t n);
void DequantizeQ5_K(const void* src, float* dst, int64_t n);
void DequantizeQ6_K(const void* src, float* dst, int64_t n);
void DequantizeIq4Xs(const void* src, float* dst, int64_t n);
void QuantizeQ2_K(const float* src, void* dst, int64_t n);
void QuantizeQ3_K(const float* src, void* dst, int64_t n);
void QuantizeQ4_K(const float* src, void* dst, int64_t n);
void QuantizeQ5_K(const float* src, void* dst, int64_t n);
void QuantizeQ6_K(const float* src, void* dst, int64_t n);
void QuantizeIq4Xs(const float* src, void* dst, int64_t n);

// Plain floats and MXFP4 (quant_float.cc).
void DequantizeF32(const void* src, float* dst, int64_t n);
void DequantizeF16(const void* src, float* dst, int64_t n);
void DequantizeBf16(const void* src, float* dst, int64_t n);
void DequantizeMxfp4(const void* src, float* dst, int64_t n);
void QuantizeF32(const float* src, void* dst, int64_t n);
void QuantizeF16(const float* src, void* dst, int64_t n);
void QuantizeBf16(const float* src, void* dst, int64_t n);
void QuantizeMxfp4(const float* src, void* dst, int64_t n);

// f32 scale -> the f16 bits stored for it, saturated to the largest finite half so
// that a block of huge values still gets a finite scale.
inline uint16_t StoreScaleF16(float scale) {
  constexpr float kMaxHalf = 65504.0f;
  return F32ToF16(std::fmin(std::fmax(scale, -kMaxHalf), kMaxHalf));
}

// round(x / step) clamped to [lo, hi]; 0 when step is 0 (an all-zero block).
inline int QuantizeToGrid(float x, float step, int lo, int hi) {
  if (step == 0.0f) return 0;
  float q = std::nearbyint(x / step);
  return static_cast<int>(std::fmin(std::fmax(q, static_cast<float>(lo)), static_cast<float>(hi)));
}

// Index of the level in `levels[16]` whose scale * level is nearest to x (first on ties).
inline int NearestLevel(float x, float scale, const int8_t* levels) {
  int best = 0;
  float best_err = std::fabs(scale * levels[0] - x);
  for (int k = 1; k < 16; ++k) {
    float err = std::fabs(scale * levels[k] - x);
    if (err < best_err) {
      best_err = err;
      best = k;
    }
  }
  return best;
}

// The element of x[0..n) with the largest magnitude, sign kept (first on ties), so a
// symmetric format can map it exactly onto its most negative level.
inline float SignedAbsMax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  }
  return best;
}

// 32 values of 0..15 -> 16 bytes: low nibble = element i, high nibble = element i + 16.
inline void PackNibbles(const uint8_t* q, uint8_t* qs) {
  for (int i = 0; i < 16; ++i) qs[i] = static_cast<uint8_t>(q[i] | (q[i + 16] << 4));
}

}  // namespace tandem
