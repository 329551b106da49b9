// The packed blocks of the quantized weight formats, byte for byte as ggml stores them.
// f16 fields hold IEEE half bits (read them with F16ToF32). Sub-block orders are
// spelled out beside each field; the dequantizers follow them exactly.
#pragma once

#include <bit>
#include <cstdint>

namespace tandem {

static_assert(std::endian::native == std::endian::little, "GGUF blocks are little-endian");

inline constexpr int kQK = 32;     // elements per legacy block (Q4_0 .. Q8_0, IQ4_NL, MXFP4)
inline constexpr int kQK_K = 256;  // elements per K-quant super-block

// IQ4_NL / IQ4_XS non-linear levels; the extreme is kIq4Values[0] = -127.
inline constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};
// MXFP4 e2m1 levels, doubled to be integers (the block scale is halved to match).
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// x = d * (q - 8), q in 0..15.
struct BlockQ4_0 {
  uint16_t d;             // f16 scale
  uint8_t qs[kQK / 2];    // 4-bit quants: low nibble = element i, high nibble = element i + 16
};

// x = d * q + m, q in 0..15.
struct BlockQ4_1 {
  uint16_t d;             // f16 scale
  uint16_t m;             // f16 offset (the block minimum)
  uint8_t qs[kQK / 2];    // as BlockQ4_0
};

// x = d * (q - 16), q in 0..31.
struct BlockQ5_0 {
  uint16_t d;             // f16 scale
  uint8_t qh[4];          // 5th bit of element i = bit i of this little-endian u32
  uint8_t qs[kQK / 2];    // low 4 bits, as BlockQ4_0
};

// x = d * q + m, q in 0..31.
struct BlockQ5_1 {
  uint16_t d;             // f16 scale
  uint16_t m;             // f16 offset
  uint8_t qh[4];          // as BlockQ5_0
  uint8_t qs[kQK / 2];    // as BlockQ4_0
};

// x = d * q, q in -128..127.
struct BlockQ8_0 {
  uint16_t d;             // f16 scale
  int8_t qs[kQK];         // quants in element order
};

// x = d * kIq4Values[q], q in 0..15.
struct BlockIq4Nl {
  uint16_t d;             // f16 scale
  uint8_t qs[kQK / 2];    // level indices, nibble order as BlockQ4_0
};

// x = 2^(e - 128) * kMxfp4Values[q] (the e8m0 scale halved, see E8m0ToF32Half).
struct BlockMxfp4 {
  uint8_t e;              // e8m0 exponent byte
  uint8_t qs[kQK / 2];    // level indices, nibble order as BlockQ4_0
};

// 16 sub-blocks of 16: x = d * (scales[j] & 15) * q - dmin * (scales[j] >> 4), q in 0..3.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // sub-block j: low nibble scale, high nibble min
  uint8_t qs[kQK_K / 4];       // 2-bit quants: element 128h + 32t + l = bits 2t..2t+1 of qs[32h + l]
  uint16_t d;                  // f16 super-block scale of the scales
  uint16_t dmin;               // f16 super-block scale of the mins
};

// 16 sub-blocks of 16: x = d * (s[j] - 32) * q, q in -4..3, s[j] a 6-bit scale.
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];    // high bit of element 32j + l = bit j of hmask[l]; q = low2 - (bit ? 0 : 4)
  uint8_t qs[kQK_K / 4];       // low 2 bits, order as BlockQ2_K::qs
  uint8_t scales[12];          // s[j]: low 4 bits in byte j % 8 (nibble j / 8), high 2 bits
                               // in byte 8 + j % 4 (bits 2 * (j / 4) ..)
  uint16_t d;                  // f16 super-block scale
};

// 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], q in 0..15, sc/m 6-bit.
struct BlockQ4_K {
  uint16_t d;                  // f16 super-block scale of the scales
  uint16_t dmin;               // f16 super-block scale of the mins
  uint8_t scales[12];          // sc/m packed 6-bit, see UnpackScaleMinK4
  uint8_t qs[kQK_K / 2];       // 4-bit quants, low nibble = first 32 of each 64, high = second 32
};

// 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], q in 0..31.
struct BlockQ5_K {
  uint16_t d;                  // f16 super-block scale of the scales
  uint16_t dmin;               // f16 super-block scale of the mins
  uint8_t scales[12];          // as BlockQ4_K
  uint8_t qh[kQK_K / 8];       // 5th bit of element 32j + l = bit j of qh[l]
  uint8_t qs[kQK_K / 2];       // low 4 bits, as BlockQ4_K
};

// 16 sub-blocks of 16: x = d * scales[j] * (q - 32), q in 0..63.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];       // low 4 bits: element 128h + 32t + l from ql[64h + 32(t % 2) + l],
                               // low nibble for t < 2, high nibble for t >= 2
  uint8_t qh[kQK_K / 4];       // high 2 bits: bits 2t..2t+1 of qh[32h + l]
  int8_t scales[kQK_K / 16];   // signed 8-bit sub-block scales
  uint16_t d;                  // f16 super-block scale
};

// 8 sub-blocks of 32: x = d * (s[j] - 32) * kIq4Values[q], s[j] a 6-bit scale.
struct BlockIq4Xs {
  uint16_t d;                  // f16 super-block scale
  uint16_t scales_h;           // high 2 bits of s[j] at bits 2j..2j+1
  uint8_t scales_l[kQK_K / 64];  // low 4 bits of s[j]: byte j / 2, low nibble for even j
  uint8_t qs[kQK_K / 2];       // level indices; sub-block j in qs[16j ..16j+15], nibbles as BlockQ4_0
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockIq4Nl) == 18);
static_assert(sizeof(BlockMxfp4) == 17);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockIq4Xs) == 136);

}  // namespace tandem
