// The 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/block_formats.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quant_rows.h"

namespace tandem {
namespace {

// The 5th bits of a Q5 block's 32 quants, bit i = element i.
uint32_t LoadHighBits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  return bits;
}

// Element i of a nibble-packed 32-element block (see BlockQ4_0::qs).
int Nibble(const uint8_t* qs, int i) { return i < 16 ? qs[i] & 0x0f : qs[i - 16] >> 4; }

// Element i of a Q5 block: low nibble plus bit i of qh.
int Quant5(const uint8_t* qs, uint32_t qh, int i) {
  return Nibble(qs, i) | static_cast<int>(((qh >> i) & 1u) << 4);
}

void StoreQuant5(const uint8_t* q, uint8_t* qs, uint8_t* qh) {
  uint8_t low[kQK];
  uint32_t high = 0;
  for (int i = 0; i < kQK; ++i) {
    low[i] = q[i] & 0x0f;
    high |= static_cast<uint32_t>(q[i] >> 4) << i;
  }
  PackNibbles(low, qs);
  std::memcpy(qh, &high, sizeof high);
}

}  // namespace

void DequantizeQ4_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    float d = F16ToF32(blocks[b].d);
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(Nibble(blocks[b].qs, i) - 8);
  }
}

void DequantizeQ4_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_1*>(src);
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    float d = F16ToF32(blocks[b].d);
    float m = F16ToF32(blocks[b].m);
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(Nibble(blocks[b].qs, i)) + m;
  }
}

void DequantizeQ5_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_0*>(src);
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    float d = F16ToF32(blocks[b].d);
    uint32_t qh = LoadHighBits(blocks[b].qh);
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(Quant5(blocks[b].qs, qh, i) - 16);
  }
}

void DequantizeQ5_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_1*>(src);
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    float d = F16ToF32(blocks[b].d);
    float m = F16ToF32(blocks[b].m);
    uint32_t qh = LoadHighBits(blocks[b].qh);
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(Quant5(blocks[b].qs, qh, i)) + m;
  }
}

void DequantizeQ8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    float d = F16ToF32(blocks[b].d);
    for (int i = 0; i < kQK; ++i) dst[i] = static_cast<float>(blocks[b].qs[i]) * d;
  }
}

void DequantizeIq4Nl(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockIq4Nl*>(src);
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    float d = F16ToF32(blocks[b].d);
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(kIq4Values[Nibble(blocks[b].qs, i)]);
  }
}

void QuantizeQ4_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    blocks[b].d = StoreScaleF16(SignedAbsMax(src, kQK) / -8.0f);  // the extreme lands on q = 0
    float d = F16ToF32(blocks[b].d);
    uint8_t q[kQK];
    for (int i = 0; i < kQK; ++i) q[i] = static_cast<uint8_t>(QuantizeToGrid(src[i], d, -8, 7) + 8);
    PackNibbles(q, blocks[b].qs);
  }
}

void QuantizeQ4_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_1*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    auto [lo, hi] = std::minmax_element(src, src + kQK);
    blocks[b].d = StoreScaleF16((*hi - *lo) / 15.0f);
    blocks[b].m = StoreScaleF16(*lo);
    float d = F16ToF32(blocks[b].d);
    float m = F16ToF32(blocks[b].m);
    uint8_t q[kQK];
    for (int i = 0; i < kQK; ++i) q[i] = static_cast<uint8_t>(QuantizeToGrid(src[i] - m, d, 0, 15));
    PackNibbles(q, blocks[b].qs);
  }
}

void QuantizeQ5_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    blocks[b].d = StoreScaleF16(SignedAbsMax(src, kQK) / -16.0f);
    float d = F16ToF32(blocks[b].d);
    uint8_t q[kQK];
    for (int i = 0; i < kQK; ++i) q[i] = static_cast<uint8_t>(QuantizeToGrid(src[i], d, -16, 15) + 16);
    StoreQuant5(q, blocks[b].qs, blocks[b].qh);
  }
}

void QuantizeQ5_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_1*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    auto [lo, hi] = std::minmax_element(src, src + kQK);
    blocks[b].d = StoreScaleF16((*hi - *lo) / 31.0f);
    blocks[b].m = StoreScaleF16(*lo);
    float d = F16ToF32(blocks[b].d);
    float m = F16ToF32(blocks[b].m);
    uint8_t q[kQK];
    for (int i = 0; i < kQK; ++i) q[i] = static_cast<uint8_t>(QuantizeToGrid(src[i] - m, d, 0, 31));
    StoreQuant5(q, blocks[b].qs, blocks[b].qh);
  }
}

void QuantizeQ8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    blocks[b].d = StoreScaleF16(std::fabs(SignedAbsMax(src, kQK)) / 127.0f);
    float d = F16ToF32(blocks[b].d);
    for (int i = 0; i < kQK; ++i) blocks[b].qs[i] = static_cast<int8_t>(QuantizeToGrid(src[i], d, -127, 127));
  }
}

void QuantizeIq4Nl(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockIq4Nl*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    blocks[b].d = StoreScaleF16(SignedAbsMax(src, kQK) / static_cast<float>(kIq4Values[0]));
    float d = F16ToF32(blocks[b].d);
    uint8_t q[kQK];
    for (int i = 0; i < kQK; ++i) q[i] = static_cast<uint8_t>(NearestLevel(src[i], d, kIq4Values));
    PackNibbles(q, blocks[b].qs);
  }
}

}  // namespace tandem
