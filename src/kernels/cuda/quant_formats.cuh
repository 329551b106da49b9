// Device-side decoders of the GGUF weight formats for the matrix-vector kernels.
//
// The unit of work is a group of 256 elements (one K-quant super-block, eight 32-element
// blocks, or 256 plain floats) whose bytes sit in shared memory at byte offset `off`
// (any alignment). Lane l (0..31) owns elements [8l, 8l + 8) of the group, which always
// share one sub-block scale, and gets them as w[i] = scale * q[i] + offset (offset only
// where Format::kOffset). The unpacking mirrors the CPU reference (kernels/cpu/quant_*.cc)
// field by field; block_formats.h documents the layouts.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "model/ggml_type.h"

namespace tandem::cuda_detail {

inline constexpr int kGroupElems = 256;  // elements per group
inline constexpr int kLaneElems = 8;     // elements of a group per lane

// --- reading bytes at any offset of a shared-memory buffer ------------------------------
// The buffer must stay readable 8 bytes past the last byte asked for (the staging buffer
// is padded), since unaligned reads fetch the aligned words around them.

__device__ __forceinline__ uint32_t LoadU32(const uint8_t* s, int off) {
  const uint32_t* p = reinterpret_cast<const uint32_t*>(s + (off & ~3));
  return __funnelshift_r(p[0], p[1], 8 * (off & 3));
}

__device__ __forceinline__ uint2 LoadU64(const uint8_t* s, int off) {
  const uint32_t* p = reinterpret_cast<const uint32_t*>(s + (off & ~3));
  const int shift = 8 * (off & 3);
  const uint32_t w0 = p[0], w1 = p[1], w2 = p[2];
  return make_uint2(__funnelshift_r(w0, w1, shift), __funnelshift_r(w1, w2, shift));
}

__device__ __forceinline__ float LoadF16(const uint8_t* s, int off) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(LoadU32(s, off) & 0xffffu)));
}

// --- small integers -> f32 without the slow int-to-float unit ----------------------------
// 1.5 * 2^23 has unit spacing: its bit pattern with a byte u in the low mantissa is exactly
// 12582912 + u, so one byte permute and one subtraction give float(u - bias).
inline constexpr float kMagic = 12582912.0f;

// The 4 bytes of `packed` as floats, each minus `bias`.
__device__ __forceinline__ void BytesToFloats(uint32_t packed, float bias, float* out) {
#pragma unroll
  for (int k = 0; k < 4; ++k) out[k] = __uint_as_float(__byte_perm(packed, 0x4b400000u, 0x7640u + k)) - (kMagic + bias);
}

// 8 bytes (two words) -> q[8], each minus bias.
__device__ __forceinline__ void Bytes8ToFloats(uint32_t lo, uint32_t hi, float bias, float q[8]) {
  BytesToFloats(lo, bias, q);
  BytesToFloats(hi, bias, q + 4);
}

// Bits 0..3 of `bits` -> bit 0 of bytes 0..3.
__device__ __forceinline__ uint32_t SpreadBits4(uint32_t bits) { return ((bits & 15u) * 0x00204081u) & 0x01010101u; }

// Each byte of `indices` (0..15) -> the signed level it picks from a 16-entry int8 table in
// t0..t3, as bytes (two byte permutes and a per-byte select).
__device__ __forceinline__ uint32_t Lookup4(uint32_t indices, uint32_t t0, uint32_t t1, uint32_t t2, uint32_t t3) {
  const uint32_t sel = (indices & 0x7u) | ((indices >> 4) & 0x70u) | ((indices >> 8) & 0x700u) | ((indices >> 12) & 0x7000u);
  const uint32_t low = __byte_perm(t0, t1, sel), high = __byte_perm(t2, t3, sel);
  const uint32_t use_high = ((indices >> 3) & 0x01010101u) * 0xffu;
  return (low & ~use_high) | (high & use_high);
}

// Nibble indices (bytes 0..15) -> the levels as floats. The signed level bytes are
// offset by 128 (xor 0x80) to become unsigned for BytesToFloats.
// kIq4Values {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}.
__device__ __forceinline__ void Iq4Levels(uint32_t lo, uint32_t hi, float q[8]) {
  Bytes8ToFloats(Lookup4(lo, 0xbfad9881u, 0xf6eaddcfu, 0x26190d01u, 0x71594535u) ^ 0x80808080u,
                 Lookup4(hi, 0xbfad9881u, 0xf6eaddcfu, 0x26190d01u, 0x71594535u) ^ 0x80808080u, 128.0f, q);
}
// kMxfp4Values {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}.
__device__ __forceinline__ void Mxfp4Levels(uint32_t lo, uint32_t hi, float q[8]) {
  Bytes8ToFloats(Lookup4(lo, 0x03020100u, 0x0c080604u, 0xfdfeff00u, 0xf4f8fafcu) ^ 0x80808080u,
                 Lookup4(hi, 0x03020100u, 0x0c080604u, 0xfdfeff00u, 0xf4f8fafcu) ^ 0x80808080u, 128.0f, q);
}

// Nibble `shift / 4` of each byte of w (shift 0 or 4).
__device__ __forceinline__ uint32_t Nibbles(uint32_t w, int shift) { return (w >> shift) & 0x0f0f0f0fu; }

// 2^(e - 128): half the e8m0 scale (kMxfp4Values are doubled), as the CPU E8m0ToF32Half.
__device__ __forceinline__ float E8m0Half(uint32_t e) {
  return __uint_as_float(e < 2 ? 0x00200000u << e : (e - 1) << 23);
}

// --- the formats ------------------------------------------------------------------------
// Each Format: kGroupBytes (bytes per 256 elements), kOffset, and
//   Decode(s, off, lane, q[8], &scale, &offset).

template <GgmlType T>
struct Format;

template <>
struct Format<GgmlType::F32> {
  static constexpr int kGroupBytes = 1024;
  static constexpr bool kOffset = false;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const int at = off + 32 * lane;
    if ((at & 15) == 0) {
      const uint4 a = *reinterpret_cast<const uint4*>(s + at);
      const uint4 b = *reinterpret_cast<const uint4*>(s + at + 16);
      const uint32_t words[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
      for (int i = 0; i < 8; ++i) q[i] = __uint_as_float(words[i]);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) q[i] = __uint_as_float(LoadU32(s, at + 4 * i));
    }
    scale = 1.0f;
  }
};

// F16 and BF16: 8 halves = 16 bytes per lane.
template <bool kBf16>
struct HalfFormat {
  static constexpr int kGroupBytes = 512;
  static constexpr bool kOffset = false;
  __device__ static float Convert(uint32_t bits16) {
    return kBf16 ? __uint_as_float(bits16 << 16) : __half2float(__ushort_as_half(static_cast<unsigned short>(bits16)));
  }
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const int at = off + 16 * lane;
    uint32_t words[4];
    if ((at & 15) == 0) {
      const uint4 a = *reinterpret_cast<const uint4*>(s + at);
      words[0] = a.x, words[1] = a.y, words[2] = a.z, words[3] = a.w;
    } else {
      const uint2 a = LoadU64(s, at), b = LoadU64(s, at + 8);
      words[0] = a.x, words[1] = a.y, words[2] = b.x, words[3] = b.y;
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      q[2 * i] = Convert(words[i] & 0xffffu);
      q[2 * i + 1] = Convert(words[i] >> 16);
    }
    scale = 1.0f;
  }
};
template <>
struct Format<GgmlType::F16> : HalfFormat<false> {};
template <>
struct Format<GgmlType::BF16> : HalfFormat<true> {};

// 32-element blocks: lane l reads block l / 4 of the group, elements o = 8 (l % 4) .. o + 7.
struct LegacySlot {
  int block;  // byte offset of the lane's block
  int o;      // first element of the lane in its block: 0, 8, 16 or 24
  __device__ LegacySlot(int off, int lane, int block_bytes) : block(off + (lane >> 2) * block_bytes), o(8 * (lane & 3)) {}
  // nibble-packed quants (BlockQ4_0::qs order) at byte qs: the lane's 8 bytes and nibble shift
  __device__ uint2 NibbleBytes(const uint8_t* s, int qs) const { return LoadU64(s, block + qs + (o & 15)); }
  __device__ int NibbleShift() const { return o >= 16 ? 4 : 0; }
};

template <>
struct Format<GgmlType::Q4_0> {
  static constexpr int kGroupBytes = 8 * 18;
  static constexpr bool kOffset = false;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const LegacySlot slot(off, lane, 18);
    const uint2 b = slot.NibbleBytes(s, 2);
    const int sh = slot.NibbleShift();
    Bytes8ToFloats(Nibbles(b.x, sh), Nibbles(b.y, sh), 8.0f, q);
    scale = LoadF16(s, slot.block);
  }
};

template <>
struct Format<GgmlType::Q4_1> {
  static constexpr int kGroupBytes = 8 * 20;
  static constexpr bool kOffset = true;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float& offset) {
    const LegacySlot slot(off, lane, 20);
    const uint2 b = slot.NibbleBytes(s, 4);
    const int sh = slot.NibbleShift();
    Bytes8ToFloats(Nibbles(b.x, sh), Nibbles(b.y, sh), 0.0f, q);
    scale = LoadF16(s, slot.block);
    offset = LoadF16(s, slot.block + 2);
  }
};

template <>
struct Format<GgmlType::Q5_0> {
  static constexpr int kGroupBytes = 8 * 22;
  static constexpr bool kOffset = false;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const LegacySlot slot(off, lane, 22);
    const uint32_t qh = LoadU32(s, slot.block + 2) >> slot.o;
    const uint2 b = slot.NibbleBytes(s, 6);
    const int sh = slot.NibbleShift();
    Bytes8ToFloats(Nibbles(b.x, sh) | (SpreadBits4(qh) << 4), Nibbles(b.y, sh) | (SpreadBits4(qh >> 4) << 4), 16.0f, q);
    scale = LoadF16(s, slot.block);
  }
};

template <>
struct Format<GgmlType::Q5_1> {
  static constexpr int kGroupBytes = 8 * 24;
  static constexpr bool kOffset = true;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float& offset) {
    const LegacySlot slot(off, lane, 24);
    const uint32_t qh = LoadU32(s, slot.block + 4) >> slot.o;
    const uint2 b = slot.NibbleBytes(s, 8);
    const int sh = slot.NibbleShift();
    Bytes8ToFloats(Nibbles(b.x, sh) | (SpreadBits4(qh) << 4), Nibbles(b.y, sh) | (SpreadBits4(qh >> 4) << 4), 0.0f, q);
    scale = LoadF16(s, slot.block);
    offset = LoadF16(s, slot.block + 2);
  }
};

template <>
struct Format<GgmlType::Q8_0> {
  static constexpr int kGroupBytes = 8 * 34;
  static constexpr bool kOffset = false;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const LegacySlot slot(off, lane, 34);
    const uint2 b = LoadU64(s, slot.block + 2 + slot.o);
    Bytes8ToFloats(b.x ^ 0x80808080u, b.y ^ 0x80808080u, 128.0f, q);  // signed -> +128
    scale = LoadF16(s, slot.block);
  }
};

template <>
struct Format<GgmlType::IQ4_NL> {
  static constexpr int kGroupBytes = 8 * 18;
  static constexpr bool kOffset = false;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const LegacySlot slot(off, lane, 18);
    const uint2 b = slot.NibbleBytes(s, 2);
    const int sh = slot.NibbleShift();
    Iq4Levels(Nibbles(b.x, sh), Nibbles(b.y, sh), q);
    scale = LoadF16(s, slot.block);
  }
};

template <>
struct Format<GgmlType::MXFP4> {
  static constexpr int kGroupBytes = 8 * 17;
  static constexpr bool kOffset = false;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const LegacySlot slot(off, lane, 17);
    const uint2 b = slot.NibbleBytes(s, 1);
    const int sh = slot.NibbleShift();
    Mxfp4Levels(Nibbles(b.x, sh), Nibbles(b.y, sh), q);
    scale = E8m0Half(s[slot.block]);
  }
};

// K-quants: element e = 8 lane of the super-block; in the 2-bit / 6-bit layouts
// e = 128 h + 32 t + l with l = 8 (lane % 4).
struct KSlot {
  int h, t, l;
  __device__ explicit KSlot(int lane) : h(lane >> 4), t((lane >> 2) & 3), l(8 * (lane & 3)) {}
};

template <>
struct Format<GgmlType::Q2_K> {  // scales[16] @0, qs[64] @16, d @80, dmin @82
  static constexpr int kGroupBytes = 84;
  static constexpr bool kOffset = true;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float& offset) {
    const KSlot k(lane);
    const uint2 b = LoadU64(s, off + 16 + 32 * k.h + k.l);
    Bytes8ToFloats((b.x >> (2 * k.t)) & 0x03030303u, (b.y >> (2 * k.t)) & 0x03030303u, 0.0f, q);
    const uint32_t sc = s[off + (lane >> 1)];  // sub-block e / 16
    scale = LoadF16(s, off + 80) * static_cast<float>(sc & 15);
    offset = -(LoadF16(s, off + 82) * static_cast<float>(sc >> 4));
  }
};

template <>
struct Format<GgmlType::Q3_K> {  // hmask[32] @0, qs[64] @32, scales[12] @96, d @108
  static constexpr int kGroupBytes = 110;
  static constexpr bool kOffset = false;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const KSlot k(lane);
    const uint2 low = LoadU64(s, off + 32 + 32 * k.h + k.l);
    const uint2 high = LoadU64(s, off + k.l);  // bit e / 32 of hmask[e % 32]
    const int bit = lane >> 2;
    // low 2 bits | hmask bit << 2 is q + 4
    Bytes8ToFloats(((low.x >> (2 * k.t)) & 0x03030303u) | (((high.x >> bit) & 0x01010101u) << 2),
                   ((low.y >> (2 * k.t)) & 0x03030303u) | (((high.y >> bit) & 0x01010101u) << 2), 4.0f, q);
    const int j = lane >> 1;  // sub-block e / 16
    const int lo4 = (s[off + 96 + (j & 7)] >> (4 * (j >> 3))) & 15;
    const int hi2 = (s[off + 104 + (j & 3)] >> (2 * (j >> 2))) & 3;
    scale = LoadF16(s, off + 108) * static_cast<float>((lo4 | (hi2 << 4)) - 32);
  }
};

// Q4_K / Q5_K: 6-bit scale and min of sub-block j (0..7) from the 12 bytes at `scales`.
// Branch-free (lanes of a warp take both cases): j < 4 reads bytes j and j + 4; j >= 4
// packs the low 4 bits from byte j + 4 and the high 2 from the top of bytes j - 4 and j.
__device__ __forceinline__ void ScaleMinK4(const uint8_t* s, int scales, int j, int& sc, int& m) {
  const int first = s[scales + (j & 3)];       // byte j (j < 4) or j - 4
  const int second = s[scales + 4 + (j & 3)];  // byte j + 4 (j < 4) or j
  const int packed = s[scales + 8 + (j & 3)];  // byte j + 4 for j >= 4
  if (j < 4) {
    sc = first & 63;
    m = second & 63;
  } else {
    sc = (packed & 15) | ((first >> 6) << 4);
    m = (packed >> 4) | ((second >> 6) << 4);
  }
}

template <>
struct Format<GgmlType::Q4_K> {  // d @0, dmin @2, scales[12] @4, qs[128] @16
  static constexpr int kGroupBytes = 144;
  static constexpr bool kOffset = true;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float& offset) {
    const int j = lane >> 2;                 // sub-block e / 32; e = 64 c + 32 (j % 2) + l
    const int l = 8 * (lane & 3);
    const uint2 b = LoadU64(s, off + 16 + 32 * (j >> 1) + l);
    const int sh = 4 * (j & 1);
    Bytes8ToFloats(Nibbles(b.x, sh), Nibbles(b.y, sh), 0.0f, q);
    int sc, m;
    ScaleMinK4(s, off + 4, j, sc, m);
    scale = LoadF16(s, off) * static_cast<float>(sc);
    offset = -(LoadF16(s, off + 2) * static_cast<float>(m));
  }
};

template <>
struct Format<GgmlType::Q5_K> {  // d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
  static constexpr int kGroupBytes = 176;
  static constexpr bool kOffset = true;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float& offset) {
    const int j = lane >> 2;
    const int l = 8 * (lane & 3);
    const uint2 b = LoadU64(s, off + 48 + 32 * (j >> 1) + l);
    const uint2 hb = LoadU64(s, off + 16 + l);  // bit j of qh[l]
    const int sh = 4 * (j & 1);
    Bytes8ToFloats(Nibbles(b.x, sh) | (((hb.x >> j) & 0x01010101u) << 4),
                   Nibbles(b.y, sh) | (((hb.y >> j) & 0x01010101u) << 4), 0.0f, q);
    int sc, m;
    ScaleMinK4(s, off + 4, j, sc, m);
    scale = LoadF16(s, off) * static_cast<float>(sc);
    offset = -(LoadF16(s, off + 2) * static_cast<float>(m));
  }
};

template <>
struct Format<GgmlType::Q6_K> {  // ql[128] @0, qh[64] @128, scales[16] @192, d @208
  static constexpr int kGroupBytes = 210;
  static constexpr bool kOffset = false;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const KSlot k(lane);
    const uint2 low = LoadU64(s, off + 64 * k.h + 32 * (k.t & 1) + k.l);
    const uint2 high = LoadU64(s, off + 128 + 32 * k.h + k.l);
    const int low_shift = 4 * (k.t >> 1);
    Bytes8ToFloats(Nibbles(low.x, low_shift) | (((high.x >> (2 * k.t)) & 0x03030303u) << 4),
                   Nibbles(low.y, low_shift) | (((high.y >> (2 * k.t)) & 0x03030303u) << 4), 32.0f, q);
    scale = LoadF16(s, off + 208) * static_cast<float>(static_cast<int8_t>(s[off + 192 + (lane >> 1)]));
  }
};

template <>
struct Format<GgmlType::IQ4_XS> {  // d @0, scales_h @2, scales_l[4] @4, qs[128] @8
  static constexpr int kGroupBytes = 136;
  static constexpr bool kOffset = false;
  __device__ static void Decode(const uint8_t* s, int off, int lane, float q[8], float& scale, float&) {
    const int j = lane >> 2;                 // sub-block of 32
    const int o = 8 * (lane & 3);            // element in the sub-block
    const uint2 b = LoadU64(s, off + 8 + 16 * j + (o & 15));
    const int sh = o >= 16 ? 4 : 0;
    Iq4Levels(Nibbles(b.x, sh), Nibbles(b.y, sh), q);
    const uint32_t scales_h = LoadU32(s, off + 2) & 0xffffu;
    const int stored = ((s[off + 4 + (j >> 1)] >> (4 * (j & 1))) & 15) | (((scales_h >> (2 * j)) & 3) << 4);
    scale = LoadF16(s, off) * static_cast<float>(stored - 32);
  }
};

}  // namespace tandem::cuda_detail
