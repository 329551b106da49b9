// The ggml tensor types a GGUF file may hold, with their block geometry.
// Numbering is ggml's (it is what the file stores); only the types of kSupportedTypes
// can be loaded, every other known or unknown number is a clear error.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace tandem {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct GgmlTypeInfo {
  GgmlType type;
  std::string_view name;  // "Q4_K"
  uint32_t block_size;    // elements per block
  uint32_t block_bytes;   // bytes per block
  bool supported;         // tandem can compute with it
};

// The 16 types tandem reads and computes with.
std::span<const GgmlType> SupportedTypes();

// Info for a type number from a file; nullopt for numbers ggml never defined.
std::optional<GgmlTypeInfo> FindTypeInfo(uint32_t type);
// Info for a known type (asserts nothing: every enumerator has an entry).
const GgmlTypeInfo& TypeInfo(GgmlType type);
std::string_view TypeName(GgmlType type);
// Parse "q4_k" / "Q4_K" / "f16"; nullopt if unknown.
std::optional<GgmlType> ParseTypeName(std::string_view name);

// Bytes of a row of `n` elements; n must be a multiple of the block size.
inline uint64_t RowBytes(GgmlType type, uint64_t n) {
  const GgmlTypeInfo& info = TypeInfo(type);
  return n / info.block_size * info.block_bytes;
}

}  // namespace tandem
