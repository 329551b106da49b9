// Integer views of the GGUF weight formats for the int8-activation kernel
// (quant_matvec_q8.cu): the same fields as quant_formats.cuh, but a slot's 8 quants come
// back as 8 raw bytes for dp4a instead of 8 floats.
//
// A group of 256 elements (at byte `off` of a shared-memory buffer, any alignment) has 32
// slots; slot v holds elements [8v, 8v + 8). For slot v:
//   Quants(s, off, v) -> 8 bytes q (uint2, element 8v + i in byte i),
//   Scale(s, off, v, scale, offset): the weights are w = scale * (q - kBias) + offset,
// with q read as int8 where kSigned, else as uint8. Slots 4k .. 4k + 3 share one 32-element
// block of activations; kSlotsPerScale of them (2 or 4) share one scale, so Scale is asked
// once per kSlotsPerScale slots.
#pragma once

#include "kernels/cuda/quant_formats.cuh"

namespace tandem::cuda_detail {

template <GgmlType T>
struct FormatQ8;

// Signed levels of the 4-bit lookup formats, unshifted (quant_formats.cuh offsets them).
__device__ __forceinline__ uint32_t Iq4Bytes(uint32_t nibbles) {
  return Lookup4(nibbles, 0xbfad9881u, 0xf6eaddcfu, 0x26190d01u, 0x71594535u);
}
__device__ __forceinline__ uint32_t Mxfp4Bytes(uint32_t nibbles) {
  return Lookup4(nibbles, 0x03020100u, 0x0c080604u, 0xfdfeff00u, 0xf4f8fafcu);
}

// --- 32-element block formats: slot v is quarter v % 4 of block v / 4 ----------------
template <>
struct FormatQ8<GgmlType::Q4_0> {
  static constexpr int kGroupBytes = 8 * 18;
  static constexpr bool kSigned = false, kOffset = false;
  static constexpr int kBias = 8, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const LegacySlot slot(off, v, 18);
    const uint2 b = slot.NibbleBytes(s, 2);
    return make_uint2(Nibbles(b.x, slot.NibbleShift()), Nibbles(b.y, slot.NibbleShift()));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float&) {
    scale = LoadF16(s, LegacySlot(off, v, 18).block);
  }
};

template <>
struct FormatQ8<GgmlType::Q4_1> {
  static constexpr int kGroupBytes = 8 * 20;
  static constexpr bool kSigned = false, kOffset = true;
  static constexpr int kBias = 0, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const LegacySlot slot(off, v, 20);
    const uint2 b = slot.NibbleBytes(s, 4);
    return make_uint2(Nibbles(b.x, slot.NibbleShift()), Nibbles(b.y, slot.NibbleShift()));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float& offset) {
    const int block = LegacySlot(off, v, 20).block;
    scale = LoadF16(s, block);
    offset = LoadF16(s, block + 2);
  }
};

template <>
struct FormatQ8<GgmlType::Q5_0> {
  static constexpr int kGroupBytes = 8 * 22;
  static constexpr bool kSigned = false, kOffset = false;
  static constexpr int kBias = 16, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const LegacySlot slot(off, v, 22);
    const uint32_t qh = LoadU32(s, slot.block + 2) >> slot.o;
    const uint2 b = slot.NibbleBytes(s, 6);
    const int sh = slot.NibbleShift();
    return make_uint2(Nibbles(b.x, sh) | (SpreadBits4(qh) << 4), Nibbles(b.y, sh) | (SpreadBits4(qh >> 4) << 4));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float&) {
    scale = LoadF16(s, LegacySlot(off, v, 22).block);
  }
};

template <>
struct FormatQ8<GgmlType::Q5_1> {
  static constexpr int kGroupBytes = 8 * 24;
  static constexpr bool kSigned = false, kOffset = true;
  static constexpr int kBias = 0, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const LegacySlot slot(off, v, 24);
    const uint32_t qh = LoadU32(s, slot.block + 4) >> slot.o;
    const uint2 b = slot.NibbleBytes(s, 8);
    const int sh = slot.NibbleShift();
    return make_uint2(Nibbles(b.x, sh) | (SpreadBits4(qh) << 4), Nibbles(b.y, sh) | (SpreadBits4(qh >> 4) << 4));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float& offset) {
    const int block = LegacySlot(off, v, 24).block;
    scale = LoadF16(s, block);
    offset = LoadF16(s, block + 2);
  }
};

template <>
struct FormatQ8<GgmlType::Q8_0> {
  static constexpr int kGroupBytes = 8 * 34;
  static constexpr bool kSigned = true, kOffset = false;
  static constexpr int kBias = 0, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const LegacySlot slot(off, v, 34);
    return LoadU64(s, slot.block + 2 + slot.o);
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float&) {
    scale = LoadF16(s, LegacySlot(off, v, 34).block);
  }
};

template <>
struct FormatQ8<GgmlType::IQ4_NL> {
  static constexpr int kGroupBytes = 8 * 18;
  static constexpr bool kSigned = true, kOffset = false;
  static constexpr int kBias = 0, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const LegacySlot slot(off, v, 18);
    const uint2 b = slot.NibbleBytes(s, 2);
    const int sh = slot.NibbleShift();
    return make_uint2(Iq4Bytes(Nibbles(b.x, sh)), Iq4Bytes(Nibbles(b.y, sh)));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float&) {
    scale = LoadF16(s, LegacySlot(off, v, 18).block);
  }
};

template <>
struct FormatQ8<GgmlType::MXFP4> {
  static constexpr int kGroupBytes = 8 * 17;
  static constexpr bool kSigned = true, kOffset = false;
  static constexpr int kBias = 0, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const LegacySlot slot(off, v, 17);
    const uint2 b = slot.NibbleBytes(s, 1);
    const int sh = slot.NibbleShift();
    return make_uint2(Mxfp4Bytes(Nibbles(b.x, sh)), Mxfp4Bytes(Nibbles(b.y, sh)));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float&) {
    scale = E8m0Half(s[LegacySlot(off, v, 17).block]);
  }
};

// --- K-quants: element 8v = 128 h + 32 t + l (KSlot) -----------------------------------
template <>
struct FormatQ8<GgmlType::Q2_K> {  // scales[16] @0, qs[64] @16, d @80, dmin @82
  static constexpr int kGroupBytes = 84;
  static constexpr bool kSigned = false, kOffset = true;
  static constexpr int kBias = 0, kSlotsPerScale = 2;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const KSlot k(v);
    const uint2 b = LoadU64(s, off + 16 + 32 * k.h + k.l);
    return make_uint2((b.x >> (2 * k.t)) & 0x03030303u, (b.y >> (2 * k.t)) & 0x03030303u);
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float& offset) {
    const uint32_t sc = s[off + (v >> 1)];
    scale = LoadF16(s, off + 80) * static_cast<float>(sc & 15);
    offset = -(LoadF16(s, off + 82) * static_cast<float>(sc >> 4));
  }
};

template <>
struct FormatQ8<GgmlType::Q3_K> {  // hmask[32] @0, qs[64] @32, scales[12] @96, d @108
  static constexpr int kGroupBytes = 110;
  static constexpr bool kSigned = false, kOffset = false;
  static constexpr int kBias = 4, kSlotsPerScale = 2;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const KSlot k(v);
    const uint2 low = LoadU64(s, off + 32 + 32 * k.h + k.l);
    const uint2 high = LoadU64(s, off + k.l);
    const int bit = v >> 2;
    return make_uint2(((low.x >> (2 * k.t)) & 0x03030303u) | (((high.x >> bit) & 0x01010101u) << 2),
                      ((low.y >> (2 * k.t)) & 0x03030303u) | (((high.y >> bit) & 0x01010101u) << 2));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float&) {
    const int j = v >> 1;
    const int lo4 = (s[off + 96 + (j & 7)] >> (4 * (j >> 3))) & 15;
    const int hi2 = (s[off + 104 + (j & 3)] >> (2 * (j >> 2))) & 3;
    scale = LoadF16(s, off + 108) * static_cast<float>((lo4 | (hi2 << 4)) - 32);
  }
};

template <>
struct FormatQ8<GgmlType::Q4_K> {  // d @0, dmin @2, scales[12] @4, qs[128] @16
  static constexpr int kGroupBytes = 144;
  static constexpr bool kSigned = false, kOffset = true;
  static constexpr int kBias = 0, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const int j = v >> 2;
    const uint2 b = LoadU64(s, off + 16 + 32 * (j >> 1) + 8 * (v & 3));
    return make_uint2(Nibbles(b.x, 4 * (j & 1)), Nibbles(b.y, 4 * (j & 1)));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float& offset) {
    int sc, m;
    ScaleMinK4(s, off + 4, v >> 2, sc, m);
    scale = LoadF16(s, off) * static_cast<float>(sc);
    offset = -(LoadF16(s, off + 2) * static_cast<float>(m));
  }
};

template <>
struct FormatQ8<GgmlType::Q5_K> {  // d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
  static constexpr int kGroupBytes = 176;
  static constexpr bool kSigned = false, kOffset = true;
  static constexpr int kBias = 0, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const int j = v >> 2;
    const int l = 8 * (v & 3);
    const uint2 b = LoadU64(s, off + 48 + 32 * (j >> 1) + l);
    const uint2 hb = LoadU64(s, off + 16 + l);
    const int sh = 4 * (j & 1);
    return make_uint2(Nibbles(b.x, sh) | (((hb.x >> j) & 0x01010101u) << 4),
                      Nibbles(b.y, sh) | (((hb.y >> j) & 0x01010101u) << 4));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float& offset) {
    int sc, m;
    ScaleMinK4(s, off + 4, v >> 2, sc, m);
    scale = LoadF16(s, off) * static_cast<float>(sc);
    offset = -(LoadF16(s, off + 2) * static_cast<float>(m));
  }
};

template <>
struct FormatQ8<GgmlType::Q6_K> {  // ql[128] @0, qh[64] @128, scales[16] @192, d @208
  static constexpr int kGroupBytes = 210;
  static constexpr bool kSigned = false, kOffset = false;
  static constexpr int kBias = 32, kSlotsPerScale = 2;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const KSlot k(v);
    const uint2 low = LoadU64(s, off + 64 * k.h + 32 * (k.t & 1) + k.l);
    const uint2 high = LoadU64(s, off + 128 + 32 * k.h + k.l);
    const int low_shift = 4 * (k.t >> 1);
    return make_uint2(Nibbles(low.x, low_shift) | (((high.x >> (2 * k.t)) & 0x03030303u) << 4),
                      Nibbles(low.y, low_shift) | (((high.y >> (2 * k.t)) & 0x03030303u) << 4));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float&) {
    scale = LoadF16(s, off + 208) * static_cast<float>(static_cast<int8_t>(s[off + 192 + (v >> 1)]));
  }
};

template <>
struct FormatQ8<GgmlType::IQ4_XS> {  // d @0, scales_h @2, scales_l[4] @4, qs[128] @8
  static constexpr int kGroupBytes = 136;
  static constexpr bool kSigned = true, kOffset = false;
  static constexpr int kBias = 0, kSlotsPerScale = 4;
  __device__ static uint2 Quants(const uint8_t* s, int off, int v) {
    const int j = v >> 2;
    const int o = 8 * (v & 3);
    const uint2 b = LoadU64(s, off + 8 + 16 * j + (o & 15));
    const int sh = o >= 16 ? 4 : 0;
    return make_uint2(Iq4Bytes(Nibbles(b.x, sh)), Iq4Bytes(Nibbles(b.y, sh)));
  }
  __device__ static void Scale(const uint8_t* s, int off, int v, float& scale, float&) {
    const int j = v >> 2;
    const uint32_t scales_h = LoadU32(s, off + 2) & 0xffffu;
    const int stored = ((s[off + 4 + (j >> 1)] >> (4 * (j & 1))) & 15) | (((scales_h >> (2 * j)) & 3) << 4);
    scale = LoadF16(s, off) * static_cast<float>(stored - 32);
  }
};

}  // namespace tandem::cuda_detail
