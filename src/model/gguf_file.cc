#include "model/gguf_file.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace tandem {
namespace {

constexpr int kMaxArrayDepth = 8;

// Names the field a read is for. Formatted only into an error message, so naming the
// key of every element of a large array costs nothing: "value of 'key'".
class Field {
 public:
  Field(const char* what) : what_(what) {}
  Field(const std::string& what) : what_(what) {}
  Field(std::string_view what, std::string_view key) : what_(what), key_(key), has_key_(true) {}

  std::string str() const { return has_key_ ? fmt::format("{} '{}'", what_, key_) : std::string(what_); }

 private:
  std::string_view what_;
  std::string_view key_;
  bool has_key_ = false;
};

// Reads little-endian fields; every read checks the bytes left first.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return bytes_.size() - pos_; }

  template <typename T>
  Expected<T> Read(const Field& field) {
    if (left() < sizeof(T)) {
      return Status::Error("at byte {}: {} needs {} bytes, file ends after {}", pos_, field.str(), sizeof(T), left());
    }
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  Expected<std::string> ReadString(const Field& field) {
    uint64_t at = pos_;
    TANDEM_ASSIGN_OR_RETURN(uint64_t len, Read<uint64_t>(field));
    if (len > left()) {
      return Status::Error("at byte {}: {} has length {} but only {} bytes follow", at, field.str(), len, left());
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return s;
  }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

// Smallest encoding of one element of `type`, to bound array lengths by the bytes left.
uint64_t MinElementBytes(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL:
      return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
      return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32:
      return 4;
    case GgufValueType::STRING:
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64:
      return 8;
    case GgufValueType::ARRAY:
      return 12;  // element type + count
  }
  return 1;
}

Expected<GgufValueType> ReadValueType(Cursor& c, const Field& field) {
  uint64_t at = c.pos();
  TANDEM_ASSIGN_OR_RETURN(uint32_t t, c.Read<uint32_t>(field));
  if (t >= kGgufValueTypeCount) {
    return Status::Error("at byte {}: {} is {}, expected a GGUF value type 0..12", at, field.str(), t);
  }
  return static_cast<GgufValueType>(t);
}

Expected<GgufArray> ReadArray(Cursor& c, std::string_view key, int depth);

// Reads one value of a known type into `out` (scalar fields or array).
Status ReadValue(Cursor& c, GgufValueType type, std::string_view key, int depth, GgufValue& out) {
  out.type = type;
  const Field field("value of", key);
  switch (type) {
    case GgufValueType::UINT8: {
      TANDEM_ASSIGN_OR_RETURN(out.u, c.Read<uint8_t>(field));
      return Status::Ok();
    }
    case GgufValueType::INT8: {
      TANDEM_ASSIGN_OR_RETURN(out.i, c.Read<int8_t>(field));
      return Status::Ok();
    }
    case GgufValueType::UINT16: {
      TANDEM_ASSIGN_OR_RETURN(out.u, c.Read<uint16_t>(field));
      return Status::Ok();
    }
    case GgufValueType::INT16: {
      TANDEM_ASSIGN_OR_RETURN(out.i, c.Read<int16_t>(field));
      return Status::Ok();
    }
    case GgufValueType::UINT32: {
      TANDEM_ASSIGN_OR_RETURN(out.u, c.Read<uint32_t>(field));
      return Status::Ok();
    }
    case GgufValueType::INT32: {
      TANDEM_ASSIGN_OR_RETURN(out.i, c.Read<int32_t>(field));
      return Status::Ok();
    }
    case GgufValueType::UINT64: {
      TANDEM_ASSIGN_OR_RETURN(out.u, c.Read<uint64_t>(field));
      return Status::Ok();
    }
    case GgufValueType::INT64: {
      TANDEM_ASSIGN_OR_RETURN(out.i, c.Read<int64_t>(field));
      return Status::Ok();
    }
    case GgufValueType::FLOAT32: {
      TANDEM_ASSIGN_OR_RETURN(out.f, c.Read<float>(field));
      return Status::Ok();
    }
    case GgufValueType::FLOAT64: {
      TANDEM_ASSIGN_OR_RETURN(out.f, c.Read<double>(field));
      return Status::Ok();
    }
    case GgufValueType::BOOL: {
      uint64_t at = c.pos();
      TANDEM_ASSIGN_OR_RETURN(uint8_t b, c.Read<uint8_t>(field));
      if (b > 1) return Status::Error("at byte {}: {} is a bool of value {}, expected 0 or 1", at, field.str(), b);
      out.u = b;
      return Status::Ok();
    }
    case GgufValueType::STRING: {
      TANDEM_ASSIGN_OR_RETURN(out.s, c.ReadString(field));
      return Status::Ok();
    }
    case GgufValueType::ARRAY: {
      TANDEM_ASSIGN_OR_RETURN(out.array, ReadArray(c, key, depth + 1));
      return Status::Ok();
    }
  }
  return Status::Error("at byte {}: {} has invalid type", c.pos(), field.str());
}

Expected<GgufArray> ReadArray(Cursor& c, std::string_view key, int depth) {
  if (depth > kMaxArrayDepth) {
    return Status::Error("at byte {}: array '{}' nests deeper than {} levels", c.pos(), key, kMaxArrayDepth);
  }
  GgufArray a;
  TANDEM_ASSIGN_OR_RETURN(a.elem_type, ReadValueType(c, Field("element type of array", key)));
  uint64_t at = c.pos();
  TANDEM_ASSIGN_OR_RETURN(uint64_t n, c.Read<uint64_t>(Field("length of array", key)));
  uint64_t min_bytes = MinElementBytes(a.elem_type);
  if (n > c.left() / min_bytes) {
    return Status::Error("at byte {}: array '{}' claims {} elements of {} (at least {} bytes each), only {} bytes follow",
                         at, key, n, GgufValueTypeName(a.elem_type), min_bytes, c.left());
  }
  GgufValue element;
  for (uint64_t k = 0; k < n; ++k) {
    TANDEM_TRY(ReadValue(c, a.elem_type, key, depth, element));
    if (IsUnsignedType(a.elem_type)) {
      a.uints.push_back(element.u);
    } else if (IsSignedType(a.elem_type)) {
      a.ints.push_back(element.i);
    } else if (IsFloatType(a.elem_type)) {
      a.floats.push_back(element.f);
    } else if (a.elem_type == GgufValueType::STRING) {
      a.strings.push_back(std::move(element.s));
    } else {
      a.arrays.push_back(std::move(element.array));
    }
  }
  return a;
}

Status ReadHeaderAndMetadata(Cursor& c, GgufFile& file, uint64_t& n_tensors) {
  TANDEM_ASSIGN_OR_RETURN(uint32_t magic, c.Read<uint32_t>("magic"));
  if (std::memcmp(&magic, "GGUF", 4) != 0) {
    char m[5] = {};
    std::memcpy(m, &magic, 4);
    for (char& ch : std::span(m, 4)) {
      if (ch < 32 || ch > 126) ch = '?';
    }
    return Status::Error("at byte 0: magic is '{}', expected 'GGUF': not a GGUF file", m);
  }
  TANDEM_ASSIGN_OR_RETURN(file.version, c.Read<uint32_t>("version"));
  if (file.version == 1) return Status::Error("at byte 4: GGUF version 1 is not supported, re-convert the model (v2/v3)");
  if (file.version != 2 && file.version != 3) {
    bool swapped = file.version == 0x02000000u || file.version == 0x03000000u;
    return Status::Error("at byte 4: GGUF version {}, expected 2 or 3{}", file.version,
                         swapped ? " (this looks like a big-endian file, which tandem does not read)" : "");
  }
  TANDEM_ASSIGN_OR_RETURN(n_tensors, c.Read<uint64_t>("tensor count"));
  uint64_t kv_at = c.pos();
  TANDEM_ASSIGN_OR_RETURN(uint64_t n_kv, c.Read<uint64_t>("metadata count"));
  // a key/value takes at least 8 (key length) + 4 (type) + 1 bytes
  if (n_kv > c.left() / 13) {
    return Status::Error("at byte {}: metadata count {} cannot fit in the {} bytes that follow", kv_at, n_kv, c.left());
  }
  for (uint64_t k = 0; k < n_kv; ++k) {
    uint64_t at = c.pos();
    TANDEM_ASSIGN_OR_RETURN(std::string key, c.ReadString(fmt::format("key of metadata entry {}", k)));
    if (file.metadata.Has(key)) return Status::Error("at byte {}: metadata key '{}' appears twice", at, key);
    TANDEM_ASSIGN_OR_RETURN(GgufValueType type, ReadValueType(c, Field("type of", key)));
    GgufValue value;
    TANDEM_TRY(ReadValue(c, type, key, 0, value));
    file.metadata.Set(std::move(key), std::move(value));
  }
  if (const GgufValue* align = file.metadata.Find("general.alignment")) {
    if (align->type != GgufValueType::UINT32 || align->u == 0 || (align->u & (align->u - 1)) != 0) {
      return Status::Error("general.alignment is {} {}, expected a u32 power of two", GgufValueTypeName(align->type),
                           align->Summary());
    }
    file.alignment = static_cast<uint32_t>(align->u);
  }
  return Status::Ok();
}

Expected<GgufTensorInfo> ReadTensorInfo(Cursor& c, uint64_t index, uint32_t alignment) {
  GgufTensorInfo t;
  uint64_t at = c.pos();
  TANDEM_ASSIGN_OR_RETURN(t.name, c.ReadString(fmt::format("name of tensor {}", index)));
  if (t.name.size() >= kGgufMaxNameBytes) {
    return Status::Error("at byte {}: tensor {} name is {} bytes, at most {} allowed", at, index, t.name.size(),
                         kGgufMaxNameBytes - 1);
  }
  if (t.name.empty()) return Status::Error("at byte {}: tensor {} has an empty name", at, index);
  at = c.pos();
  TANDEM_ASSIGN_OR_RETURN(uint32_t n_dims, c.Read<uint32_t>(Field("dimension count of tensor", t.name)));
  if (n_dims == 0 || n_dims > kGgufMaxDims) {
    return Status::Error("at byte {}: tensor '{}' has {} dimensions, expected 1..{}", at, t.name, n_dims, kGgufMaxDims);
  }
  int64_t n_elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    at = c.pos();
    TANDEM_ASSIGN_OR_RETURN(uint64_t ne, c.Read<uint64_t>(fmt::format("dimension {} of tensor '{}'", d, t.name)));
    if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::Error("at byte {}: tensor '{}' dimension {} is {}, expected 1..2^63-1", at, t.name, d, ne);
    }
    if (__builtin_mul_overflow(n_elements, static_cast<int64_t>(ne), &n_elements)) {
      return Status::Error("at byte {}: tensor '{}' element count overflows 64 bits", at, t.name);
    }
    t.ne.push_back(static_cast<int64_t>(ne));
  }
  t.n_elements = n_elements;
  at = c.pos();
  TANDEM_ASSIGN_OR_RETURN(uint32_t type, c.Read<uint32_t>(Field("type of tensor", t.name)));
  auto info = FindTypeInfo(type);
  if (!info) return Status::Error("at byte {}: tensor '{}' has unknown type {}", at, t.name, type);
  t.type = info->type;
  if (t.ne[0] % info->block_size != 0) {
    return Status::Error("at byte {}: tensor '{}' of type {} has row length {}, not a multiple of its block size {}",
                         at, t.name, info->name, t.ne[0], info->block_size);
  }
  uint64_t blocks = static_cast<uint64_t>(n_elements) / info->block_size;
  if (__builtin_mul_overflow(blocks, static_cast<uint64_t>(info->block_bytes), &t.nbytes)) {
    return Status::Error("at byte {}: tensor '{}' byte size overflows 64 bits", at, t.name);
  }
  at = c.pos();
  TANDEM_ASSIGN_OR_RETURN(t.offset, c.Read<uint64_t>(Field("offset of tensor", t.name)));
  if (t.offset % alignment != 0) {
    return Status::Error("at byte {}: tensor '{}' offset {} is not a multiple of the alignment {}", at, t.name,
                         t.offset, alignment);
  }
  return t;
}

// Data section bounds and no two tensors sharing bytes.
Status CheckTensorPlacement(const GgufFile& file, uint64_t file_size) {
  uint64_t data_size = file.data_offset <= file_size ? file_size - file.data_offset : 0;
  for (const auto& t : file.tensors) {
    uint64_t end;
    if (__builtin_add_overflow(t.offset, t.nbytes, &end) || end > data_size) {
      return Status::Error(
          "tensor '{}' ({} {}, {} bytes at data offset {}) ends past the data section ({} bytes from file byte {}): "
          "the file is truncated or the offset is wrong",
          t.name, TypeName(t.type), fmt::join(t.ne, "x"), t.nbytes, t.offset, data_size, file.data_offset);
    }
  }
  std::vector<const GgufTensorInfo*> order;
  for (const auto& t : file.tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const GgufTensorInfo& prev = *order[k - 1];
    if (order[k]->offset < prev.offset + prev.nbytes) {
      return Status::Error("tensor '{}' at data offset {} overlaps tensor '{}' (bytes {}..{})", order[k]->name,
                           order[k]->offset, prev.name, prev.offset, prev.offset + prev.nbytes);
    }
  }
  return Status::Ok();
}

}  // namespace

Expected<GgufFile> ParseGguf(std::span<const uint8_t> bytes) {
  Cursor c(bytes);
  GgufFile file;
  uint64_t n_tensors = 0;
  TANDEM_TRY(ReadHeaderAndMetadata(c, file, n_tensors));
  // a tensor info takes at least 8 (name length) + 1 + 4 (dims) + 8 (ne0) + 4 (type) + 8 (offset) bytes
  if (n_tensors > c.left() / 33) {
    return Status::Error("at byte 8: tensor count {} cannot fit in the {} bytes left after the metadata", n_tensors,
                         c.left());
  }
  std::unordered_set<std::string> names;
  for (uint64_t k = 0; k < n_tensors; ++k) {
    uint64_t at = c.pos();
    TANDEM_ASSIGN_OR_RETURN(GgufTensorInfo t, ReadTensorInfo(c, k, file.alignment));
    if (!names.insert(t.name).second) return Status::Error("at byte {}: tensor '{}' appears twice", at, t.name);
    file.tensors.push_back(std::move(t));
  }
  file.data_offset = (c.pos() + file.alignment - 1) / file.alignment * file.alignment;
  TANDEM_TRY(CheckTensorPlacement(file, bytes.size()));
  return file;
}

}  // namespace tandem
