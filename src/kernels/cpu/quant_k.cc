// The 256-element super-block formats: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS.
// Quantizers: per sub-block scale (min/max or signed absmax), the scales themselves
// quantized against an f16 super-block scale, then every value rounded on the grid of
// the scale the decoder will actually see.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/block_formats.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quant_rows.h"

namespace tandem {
namespace {

// Q4_K / Q5_K sub-block j (0..7): 6-bit scale and min from the 12 packed bytes.
void UnpackScaleMinK4(const uint8_t* scales, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4);
    *m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

void PackScaleMinK4(const int* sc, const int* m, uint8_t* scales) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    scales[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0f) | ((m[j + 4] & 0x0f) << 4));
  }
}

// Q3_K sub-block j (0..15): the stored 6-bit scale, 0..63 (the format subtracts 32).
int UnpackScaleQ3K(const uint8_t* scales, int j) {
  int low = (scales[j % 8] >> (4 * (j / 8))) & 0x0f;
  int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

void PackScalesQ3K(const int* stored, uint8_t* scales) {
  std::memset(scales, 0, 12);
  for (int j = 0; j < 16; ++j) {
    scales[j % 8] |= static_cast<uint8_t>((stored[j] & 0x0f) << (4 * (j / 8)));
    scales[8 + j % 4] |= static_cast<uint8_t>((stored[j] >> 4) << (2 * (j / 4)));
  }
}

// The 2-bit field of element i (0..255) in Q2_K / Q3_K qs: bits 2t of qs[32h + l].
void StoreQuant2(const uint8_t* q, uint8_t* qs) {
  std::memset(qs, 0, kQK_K / 4);
  for (int i = 0; i < kQK_K; ++i) {
    int h = i / 128, t = (i / 32) % 4, l = i % 32;
    qs[32 * h + l] |= static_cast<uint8_t>((q[i] & 3) << (2 * t));
  }
}

// The 4-bit field of element i in Q4_K / Q5_K qs: nibble h of qs[32c + l], i = 64c + 32h + l.
void StoreQuant4K(const uint8_t* q, uint8_t* qs) {
  std::memset(qs, 0, kQK_K / 2);
  for (int i = 0; i < kQK_K; ++i) {
    int c = i / 64, h = (i / 32) % 2, l = i % 32;
    qs[32 * c + l] |= static_cast<uint8_t>((q[i] & 0x0f) << (4 * h));
  }
}

// Bit j of bits[l] for element 32j + l (Q3_K hmask, Q5_K qh).
void StoreHighBits(const uint8_t* q, int shift, uint8_t* bits) {
  std::memset(bits, 0, kQK_K / 8);
  for (int i = 0; i < kQK_K; ++i) bits[i % 32] |= static_cast<uint8_t>(((q[i] >> shift) & 1) << (i / 32));
}

// Q6_K element i = 128h + 32t + l: low 4 bits in ql[64h + 32(t % 2) + l] (nibble t / 2),
// high 2 bits in qh[32h + l] (bits 2t).
void StoreQuant6(const uint8_t* q, BlockQ6_K* block) {
  std::memset(block->ql, 0, sizeof block->ql);
  std::memset(block->qh, 0, sizeof block->qh);
  for (int i = 0; i < kQK_K; ++i) {
    int h = i / 128, t = (i / 32) % 4, l = i % 32;
    block->ql[64 * h + 32 * (t % 2) + l] |= static_cast<uint8_t>((q[i] & 0x0f) << (4 * (t / 2)));
    block->qh[32 * h + l] |= static_cast<uint8_t>((q[i] >> 4) << (2 * t));
  }
}

// IQ4_XS sub-block j (0..7): the stored 6-bit scale, 0..63 (the format subtracts 32).
int UnpackScaleIq4Xs(const BlockIq4Xs& block, int j) {
  int low = (block.scales_l[j / 2] >> (4 * (j % 2))) & 0x0f;
  int high = (block.scales_h >> (2 * j)) & 3;
  return low | (high << 4);
}

// Asymmetric sub-blocks (Q2_K, Q4_K, Q5_K): x = d * sc[j] * q - dmin * m[j], q in 0..qmax,
// sc and m in 0..scale_max. Writes the f16 d/dmin, the integer sc/m and the quants.
struct MinMaxSuperBlock {
  uint16_t d, dmin;       // f16 bits
  int sc[16], m[16];      // per sub-block, up to 16 sub-blocks
  uint8_t q[kQK_K];       // quants in element order
};

MinMaxSuperBlock QuantizeMinMax(const float* x, int sub_size, int qmax, int scale_max) {
  const int n_sub = kQK_K / sub_size;
  float scale[16], min[16];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < n_sub; ++j) {
    const float* sub = x + j * sub_size;
    float lo = std::min(*std::min_element(sub, sub + sub_size), 0.0f);  // the offset only subtracts
    float hi = *std::max_element(sub, sub + sub_size);
    scale[j] = (hi - lo) / static_cast<float>(qmax);
    min[j] = -lo;
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, min[j]);
  }
  MinMaxSuperBlock out;
  out.d = StoreScaleF16(max_scale / static_cast<float>(scale_max));
  out.dmin = StoreScaleF16(max_min / static_cast<float>(scale_max));
  float d = F16ToF32(out.d), dmin = F16ToF32(out.dmin);
  for (int j = 0; j < n_sub; ++j) {
    out.sc[j] = QuantizeToGrid(scale[j], d, 0, scale_max);
    out.m[j] = QuantizeToGrid(min[j], dmin, 0, scale_max);
    float dl = d * static_cast<float>(out.sc[j]);
    float ml = dmin * static_cast<float>(out.m[j]);
    for (int i = j * sub_size; i < (j + 1) * sub_size; ++i) {
      out.q[i] = static_cast<uint8_t>(QuantizeToGrid(x[i] + ml, dl, 0, qmax));
    }
  }
  return out;
}

// Symmetric sub-blocks (Q3_K, Q6_K, IQ4_XS): sub-block j's scale maps its largest
// magnitude onto `extreme_level`; the scales are stored as integers in
// [-scale_limit, scale_limit] times an f16 super-block scale d.
struct SymmetricScales {
  uint16_t d;         // f16 bits
  int stored[16];     // integer sub-block scales
  float step[16];     // d * stored[j], what the decoder multiplies by
};

SymmetricScales QuantizeSymmetricScales(const float* x, int sub_size, float extreme_level, int scale_limit) {
  const int n_sub = kQK_K / sub_size;
  float scale[16];
  float max_abs = 0.0f;
  for (int j = 0; j < n_sub; ++j) {
    scale[j] = SignedAbsMax(x + j * sub_size, sub_size) / extreme_level;
    max_abs = std::max(max_abs, std::fabs(scale[j]));
  }
  SymmetricScales out;
  out.d = StoreScaleF16(max_abs / static_cast<float>(scale_limit));
  float d = F16ToF32(out.d);
  for (int j = 0; j < n_sub; ++j) {
    out.stored[j] = QuantizeToGrid(scale[j], d, -scale_limit, scale_limit);
    out.step[j] = d * static_cast<float>(out.stored[j]);
  }
  return out;
}

}  // namespace

void DequantizeQ2_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ2_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b, dst += kQK_K) {
    const BlockQ2_K& block = blocks[b];
    float d = F16ToF32(block.d), dmin = F16ToF32(block.dmin);
    for (int j = 0; j < 16; ++j) {
      float dl = d * static_cast<float>(block.scales[j] & 0x0f);
      float ml = dmin * static_cast<float>(block.scales[j] >> 4);
      // The 2-bit field of i = 16j + l: a run of 16 contiguous qs bytes at one shift (vectorises).
      const uint8_t* qs = block.qs + 32 * (j / 8) + 16 * (j % 2);
      const int shift = 2 * ((j / 2) % 4);
      for (int l = 0; l < 16; ++l) dst[16 * j + l] = dl * static_cast<float>((qs[l] >> shift) & 3) - ml;
    }
  }
}

void DequantizeQ3_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ3_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b, dst += kQK_K) {
    const BlockQ3_K& block = blocks[b];
    const float d = F16ToF32(block.d);
    // Element i = 128h + 32t + l (the 2-bit field, the hmask bit) in runs of 16 contiguous l, one
    // sub-block j = i / 16 each: loops the compiler vectorises.
    for (int h = 0; h < 2; ++h) {
      for (int t = 0; t < 4; ++t) {
        const uint8_t* qs = block.qs + 32 * h;
        for (int half = 0; half < 2; ++half) {
          const int j = 8 * h + 2 * t + half;
          const float dl = d * static_cast<float>(UnpackScaleQ3K(block.scales, j) - 32);
          float* out = dst + 16 * j;
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int q = ((qs[l] >> (2 * t)) & 3) - (((block.hmask[l] >> (4 * h + t)) & 1) ? 0 : 4);
            out[l - 16 * half] = dl * static_cast<float>(q);
          }
        }
      }
    }
  }
}

void DequantizeQ4_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b, dst += kQK_K) {
    const BlockQ4_K& block = blocks[b];
    float d = F16ToF32(block.d), dmin = F16ToF32(block.dmin);
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      UnpackScaleMinK4(block.scales, j, &sc, &m);
      float dl = d * static_cast<float>(sc);
      float ml = dmin * static_cast<float>(m);
      // The 4-bit field of i = 32j + l: nibble j % 2 of 32 contiguous qs bytes (vectorises).
      const uint8_t* qs = block.qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) dst[32 * j + l] = dl * static_cast<float>((qs[l] >> shift) & 0x0f) - ml;
    }
  }
}

void DequantizeQ5_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b, dst += kQK_K) {
    const BlockQ5_K& block = blocks[b];
    float d = F16ToF32(block.d), dmin = F16ToF32(block.dmin);
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      UnpackScaleMinK4(block.scales, j, &sc, &m);
      float dl = d * static_cast<float>(sc);
      float ml = dmin * static_cast<float>(m);
      // The 4-bit field of i = 32j + l as in Q4_K, plus bit j of qh[l] (vectorises).
      const uint8_t* qs = block.qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) {
        const int q = ((qs[l] >> shift) & 0x0f) | (((block.qh[l] >> j) & 1) << 4);
        dst[32 * j + l] = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

void DequantizeQ6_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ6_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b, dst += kQK_K) {
    const BlockQ6_K& block = blocks[b];
    const float d = F16ToF32(block.d);
    // Element i = 128h + 32t + l (low and high bits as StoreQuant6 lays them) in runs of
    // 16 contiguous l, one sub-block j = i / 16 each: loops the compiler vectorises.
    for (int h = 0; h < 2; ++h) {
      for (int t = 0; t < 4; ++t) {
        const uint8_t* ql = block.ql + 64 * h + 32 * (t % 2);
        const uint8_t* qh = block.qh + 32 * h;
        for (int half = 0; half < 2; ++half) {
          const int j = 8 * h + 2 * t + half;
          const float dl = d * static_cast<float>(block.scales[j]);
          float* out = dst + 16 * j;
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int q = ((ql[l] >> (4 * (t / 2))) & 0x0f) | (((qh[l] >> (2 * t)) & 3) << 4);
            out[l - 16 * half] = dl * static_cast<float>(q - 32);
          }
        }
      }
    }
  }
}

void DequantizeIq4Xs(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockIq4Xs*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b, dst += kQK_K) {
    const BlockIq4Xs& block = blocks[b];
    float d = F16ToF32(block.d);
    for (int j = 0; j < 8; ++j) {
      float dl = d * static_cast<float>(UnpackScaleIq4Xs(block, j) - 32);
      const uint8_t* qs = block.qs + 16 * j;
      for (int l = 0; l < 16; ++l) {
        dst[32 * j + l] = dl * static_cast<float>(kIq4Values[qs[l] & 0x0f]);
        dst[32 * j + l + 16] = dl * static_cast<float>(kIq4Values[qs[l] >> 4]);
      }
    }
  }
}

void QuantizeQ2_K(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ2_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    MinMaxSuperBlock sb = QuantizeMinMax(src, 16, 3, 15);
    blocks[b].d = sb.d;
    blocks[b].dmin = sb.dmin;
    for (int j = 0; j < 16; ++j) blocks[b].scales[j] = static_cast<uint8_t>(sb.sc[j] | (sb.m[j] << 4));
    StoreQuant2(sb.q, blocks[b].qs);
  }
}

void QuantizeQ3_K(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ3_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    SymmetricScales s = QuantizeSymmetricScales(src, 16, -4.0f, 31);
    int stored[16];
    uint8_t q[kQK_K];  // q + 4, 0..7: low 2 bits in qs, bit 2 in hmask
    for (int j = 0; j < 16; ++j) {
      stored[j] = s.stored[j] + 32;
      for (int i = 16 * j; i < 16 * j + 16; ++i) {
        q[i] = static_cast<uint8_t>(QuantizeToGrid(src[i], s.step[j], -4, 3) + 4);
      }
    }
    blocks[b].d = s.d;
    PackScalesQ3K(stored, blocks[b].scales);
    StoreQuant2(q, blocks[b].qs);
    StoreHighBits(q, 2, blocks[b].hmask);
  }
}

void QuantizeQ4_K(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    MinMaxSuperBlock sb = QuantizeMinMax(src, 32, 15, 63);
    blocks[b].d = sb.d;
    blocks[b].dmin = sb.dmin;
    PackScaleMinK4(sb.sc, sb.m, blocks[b].scales);
    StoreQuant4K(sb.q, blocks[b].qs);
  }
}

void QuantizeQ5_K(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    MinMaxSuperBlock sb = QuantizeMinMax(src, 32, 31, 63);
    blocks[b].d = sb.d;
    blocks[b].dmin = sb.dmin;
    PackScaleMinK4(sb.sc, sb.m, blocks[b].scales);
    StoreQuant4K(sb.q, blocks[b].qs);
    StoreHighBits(sb.q, 4, blocks[b].qh);
  }
}

void QuantizeQ6_K(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ6_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    SymmetricScales s = QuantizeSymmetricScales(src, 16, -32.0f, 127);
    uint8_t q[kQK_K];  // q + 32, 0..63
    for (int j = 0; j < 16; ++j) {
      blocks[b].scales[j] = static_cast<int8_t>(s.stored[j]);
      for (int i = 16 * j; i < 16 * j + 16; ++i) {
        q[i] = static_cast<uint8_t>(QuantizeToGrid(src[i], s.step[j], -32, 31) + 32);
      }
    }
    blocks[b].d = s.d;
    StoreQuant6(q, &blocks[b]);
  }
}

void QuantizeIq4Xs(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockIq4Xs*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    SymmetricScales s = QuantizeSymmetricScales(src, 32, static_cast<float>(kIq4Values[0]), 31);
    BlockIq4Xs& block = blocks[b];
    block.d = s.d;
    block.scales_h = 0;
    std::memset(block.scales_l, 0, sizeof block.scales_l);
    for (int j = 0; j < 8; ++j) {
      int stored = s.stored[j] + 32;
      block.scales_l[j / 2] |= static_cast<uint8_t>((stored & 0x0f) << (4 * (j % 2)));
      block.scales_h |= static_cast<uint16_t>((stored >> 4) << (2 * j));
      uint8_t q[kQK];
      for (int l = 0; l < kQK; ++l) {
        q[l] = static_cast<uint8_t>(NearestLevel(src[32 * j + l], s.step[j], kIq4Values));
      }
      PackNibbles(q, block.qs + 16 * j);
    }
  }
}

}  // namespace tandem
