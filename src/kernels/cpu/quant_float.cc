// Element-wise float formats (F32, F16, BF16) and MXFP4, whose 32-element blocks
// share one power-of-two scale.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "kernels/cpu/block_formats.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quant_rows.h"

namespace tandem {
namespace {

// Half of the e8m0 scale 2^(e - 127), i.e. 2^(e - 128), matching kMxfp4Values being
// doubled. e = 0 and 1 give f32 subnormals; e = 255 gives 2^127 (no nan).
float E8m0ToF32Half(uint8_t e) {
  uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

// The e8m0 byte for a block whose largest magnitude is amax: the scale puts amax's
// power of two at the level 4 (6 * 2^(floor(log2 amax) - 2) covers up to 1.5 * that).
uint8_t E8m0ForAbsMax(float amax) {
  if (!(amax > 0.0f)) return 0;
  int exp;
  std::frexp(amax, &exp);  // amax = m * 2^exp, m in [0.5, 1): floor(log2 amax) = exp - 1
  return static_cast<uint8_t>(std::clamp(exp - 1 - 2 + 127, 0, 255));
}

}  // namespace

void DequantizeF32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, n * sizeof(float)); }

void DequantizeF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(h[i]);
}

void DequantizeBf16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToF32(h[i]);
}

void DequantizeMxfp4(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockMxfp4*>(src);
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    float d = E8m0ToF32Half(blocks[b].e);
    for (int l = 0; l < kQK / 2; ++l) {
      dst[l] = d * static_cast<float>(kMxfp4Values[blocks[b].qs[l] & 0x0f]);
      dst[l + kQK / 2] = d * static_cast<float>(kMxfp4Values[blocks[b].qs[l] >> 4]);
    }
  }
}

void QuantizeF32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, n * sizeof(float)); }

void QuantizeF16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = F32ToF16(src[i]);
}

void QuantizeBf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = F32ToBf16(src[i]);
}

void QuantizeMxfp4(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockMxfp4*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    blocks[b].e = E8m0ForAbsMax(std::fabs(SignedAbsMax(src, kQK)));
    float d = E8m0ToF32Half(blocks[b].e);
    uint8_t q[kQK];
    for (int i = 0; i < kQK; ++i) q[i] = static_cast<uint8_t>(NearestLevel(src[i], d, kMxfp4Values));
    PackNibbles(q, blocks[b].qs);
  }
}

}  // namespace tandem
