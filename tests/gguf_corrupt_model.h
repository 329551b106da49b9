// The small valid GGUF model that the corruption tests break, with the byte offset of
// every field as GgufWriter lays it out, so a corruption can say "at byte N".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf_writer.h"

namespace tandem::testing {

struct KvLayout {
  std::string key;
  uint64_t start = 0;     // the key's length field
  uint64_t type_at = 0;   // value type
  uint64_t value_at = 0;  // encoded value
  uint64_t end = 0;
};

struct TensorInfoLayout {
  std::string name;
  uint64_t start = 0;  // the name's length field
  uint64_t n_dims_at = 0;
  uint64_t dims_at = 0;  // ne[0]; ne[d] is 8 * d further
  uint64_t type_at = 0;
  uint64_t offset_at = 0;
  uint64_t end = 0;
};

struct CorruptionBase {
  std::vector<uint8_t> bytes;
  std::vector<KvLayout> kvs;
  std::vector<TensorInfoLayout> tensors;
  uint64_t head_end = 0;     // end of the last tensor info
  uint64_t data_offset = 0;  // head_end aligned to 32

  const KvLayout& Kv(std::string_view key) const;
  const TensorInfoLayout& Tensor(std::string_view name) const;
  // Byte offset of the length field of element `k` of the string array `key`.
  uint64_t StringElementAt(std::string_view key, size_t k) const;
};

// Metadata: general.architecture, general.name, test.count (u32), test.scale (f32),
// test.flag (bool), tokenizer.ggml.tokens ["<s>", "hello", "world", ""], test.key_a,
// test.key_b (i32, keys of equal length). Tensors: token_embd.weight F32 32x4,
// blk.0.attn_q.weight Q8_0 64x2, blk.0.ffn_down.weight Q4_K 256x2, output_norm.weight F32 32.
GgufWriter CorruptionBaseWriter();

// CorruptionBaseWriter()'s file and its layout (built once).
const CorruptionBase& Base();

}  // namespace tandem::testing
