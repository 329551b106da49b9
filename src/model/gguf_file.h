// Parse one GGUF file (v2 or v3) from its bytes, validating every count, length, type,
// size and offset against the bytes that are there. Errors name the field, the byte
// offset and what was expected; no input makes it crash, hang or allocate more than a
// small multiple of the input size.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/ggml_type.h"
#include "model/gguf_value.h"

namespace tandem {

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr uint32_t kGgufMaxDims = 4;
inline constexpr uint64_t kGgufMaxNameBytes = 64;  // ggml's GGML_MAX_NAME, NUL included

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // [ne0, ne1, ...]: ne0 is the contiguous (row) dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // bytes from the start of the data section
  uint64_t nbytes = 0;  // rows x RowBytes(type, ne0)
  int64_t n_elements = 0;

  int64_t rows() const { return ne.empty() || ne[0] == 0 ? 0 : n_elements / ne[0]; }
};

struct GgufFile {
  uint32_t version = 3;
  uint32_t alignment = kGgufDefaultAlignment;
  GgufMetadata metadata;
  std::vector<GgufTensorInfo> tensors;  // in file order
  uint64_t data_offset = 0;             // byte offset of the data section in the file
};

// Tensor types outside SupportedTypes() are accepted here (their geometry is known);
// the model loader rejects them. Unknown type numbers are errors.
Expected<GgufFile> ParseGguf(std::span<const uint8_t> bytes);

}  // namespace tandem
