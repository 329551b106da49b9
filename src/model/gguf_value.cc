#include "model/gguf_value.h"

#include <array>
#include <cmath>
#include <limits>

namespace tandem {

std::string_view GgufValueTypeName(GgufValueType type) {
  static constexpr std::array<std::string_view, kGgufValueTypeCount> kNames = {
      "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  auto t = static_cast<uint32_t>(type);
  return t < kNames.size() ? kNames[t] : "invalid";
}

bool IsUnsignedType(GgufValueType t) {
  return t == GgufValueType::UINT8 || t == GgufValueType::UINT16 || t == GgufValueType::UINT32 ||
         t == GgufValueType::UINT64 || t == GgufValueType::BOOL;
}
bool IsSignedType(GgufValueType t) {
  return t == GgufValueType::INT8 || t == GgufValueType::INT16 || t == GgufValueType::INT32 ||
         t == GgufValueType::INT64;
}
bool IsFloatType(GgufValueType t) { return t == GgufValueType::FLOAT32 || t == GgufValueType::FLOAT64; }

size_t GgufArray::size() const {
  if (IsUnsignedType(elem_type)) return uints.size();
  if (IsSignedType(elem_type)) return ints.size();
  if (IsFloatType(elem_type)) return floats.size();
  if (elem_type == GgufValueType::STRING) return strings.size();
  return arrays.size();
}

GgufValue GgufValue::Uint(GgufValueType type, uint64_t v) {
  GgufValue value;
  value.type = type;
  value.u = v;
  return value;
}
GgufValue GgufValue::Int(GgufValueType type, int64_t v) {
  GgufValue value;
  value.type = type;
  value.i = v;
  return value;
}
GgufValue GgufValue::F32(float v) {
  GgufValue value;
  value.type = GgufValueType::FLOAT32;
  value.f = v;
  return value;
}
GgufValue GgufValue::String(std::string v) {
  GgufValue value;
  value.type = GgufValueType::STRING;
  value.s = std::move(v);
  return value;
}
GgufValue GgufValue::Array(GgufArray v) {
  GgufValue value;
  value.type = GgufValueType::ARRAY;
  value.array = std::move(v);
  return value;
}
GgufValue GgufValue::StringArray(std::vector<std::string> v) {
  GgufArray a;
  a.elem_type = GgufValueType::STRING;
  a.strings = std::move(v);
  return Array(std::move(a));
}
GgufValue GgufValue::I32Array(const std::vector<int32_t>& v) {
  GgufArray a;
  a.elem_type = GgufValueType::INT32;
  a.ints.assign(v.begin(), v.end());
  return Array(std::move(a));
}
GgufValue GgufValue::F32Array(const std::vector<float>& v) {
  GgufArray a;
  a.elem_type = GgufValueType::FLOAT32;
  a.floats.assign(v.begin(), v.end());
  return Array(std::move(a));
}

std::string GgufValue::Summary() const {
  if (type == GgufValueType::BOOL) return u ? "true" : "false";
  if (IsUnsignedType(type)) return fmt::format("{}", u);
  if (IsSignedType(type)) return fmt::format("{}", i);
  if (IsFloatType(type)) return fmt::format("{}", f);
  if (type == GgufValueType::STRING) {
    if (s.size() <= 60 && s.find('\n') == std::string::npos) return fmt::format("\"{}\"", s);
    return fmt::format("<string of {} bytes>", s.size());
  }
  return fmt::format("[array of {} {}]", array.size(), GgufValueTypeName(array.elem_type));
}

void GgufMetadata::Set(std::string key, GgufValue value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

const GgufValue* GgufMetadata::Find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Expected<const GgufValue*> GgufMetadata::Require(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Status::Error("metadata key '{}' is missing", key);
  return v;
}

Expected<uint64_t> GgufMetadata::GetUint(std::string_view key) const {
  TANDEM_ASSIGN_OR_RETURN(const GgufValue* v, Require(key));
  if (IsUnsignedType(v->type) && v->type != GgufValueType::BOOL) return v->u;
  if (IsSignedType(v->type) && v->i >= 0) return static_cast<uint64_t>(v->i);
  return Status::Error("metadata key '{}': expected a non-negative integer, file has {} {}", key,
                       GgufValueTypeName(v->type), v->Summary());
}

Expected<uint32_t> GgufMetadata::GetU32(std::string_view key) const {
  TANDEM_ASSIGN_OR_RETURN(uint64_t v, GetUint(key));
  if (v > std::numeric_limits<uint32_t>::max()) {
    return Status::Error("metadata key '{}': value {} does not fit in 32 bits", key, v);
  }
  return static_cast<uint32_t>(v);
}

Expected<int64_t> GgufMetadata::GetInt(std::string_view key) const {
  TANDEM_ASSIGN_OR_RETURN(const GgufValue* v, Require(key));
  if (IsSignedType(v->type)) return v->i;
  if (IsUnsignedType(v->type) && v->type != GgufValueType::BOOL &&
      v->u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(v->u);
  }
  return Status::Error("metadata key '{}': expected an integer, file has {} {}", key,
                       GgufValueTypeName(v->type), v->Summary());
}

Expected<float> GgufMetadata::GetF32(std::string_view key) const {
  TANDEM_ASSIGN_OR_RETURN(const GgufValue* v, Require(key));
  if (IsFloatType(v->type)) {
    if (std::isfinite(v->f) && std::fabs(v->f) > std::numeric_limits<float>::max()) {
      return Status::Error("metadata key '{}': value {} does not fit in f32", key, v->f);
    }
    return static_cast<float>(v->f);
  }
  return Status::Error("metadata key '{}': expected a float, file has {} {}", key, GgufValueTypeName(v->type),
                       v->Summary());
}

Expected<bool> GgufMetadata::GetBool(std::string_view key) const {
  TANDEM_ASSIGN_OR_RETURN(const GgufValue* v, Require(key));
  if (v->type == GgufValueType::BOOL) return v->u != 0;
  return Status::Error("metadata key '{}': expected a bool, file has {} {}", key, GgufValueTypeName(v->type),
                       v->Summary());
}

Expected<std::string> GgufMetadata::GetString(std::string_view key) const {
  TANDEM_ASSIGN_OR_RETURN(const GgufValue* v, Require(key));
  if (v->type == GgufValueType::STRING) return v->s;
  return Status::Error("metadata key '{}': expected a string, file has {} {}", key, GgufValueTypeName(v->type),
                       v->Summary());
}

Expected<const GgufArray*> GgufMetadata::GetArray(std::string_view key, GgufValueType elem_type) const {
  TANDEM_ASSIGN_OR_RETURN(const GgufValue* v, Require(key));
  if (v->type != GgufValueType::ARRAY) {
    return Status::Error("metadata key '{}': expected an array of {}, file has {} {}", key,
                         GgufValueTypeName(elem_type), GgufValueTypeName(v->type), v->Summary());
  }
  bool compatible = v->array.elem_type == elem_type ||
                    (IsSignedType(elem_type) && IsSignedType(v->array.elem_type)) ||
                    (IsFloatType(elem_type) && IsFloatType(v->array.elem_type)) ||
                    (IsUnsignedType(elem_type) && IsUnsignedType(v->array.elem_type) &&
                     elem_type != GgufValueType::BOOL && v->array.elem_type != GgufValueType::BOOL);
  if (!compatible) {
    return Status::Error("metadata key '{}': expected an array of {}, file has an array of {}", key,
                         GgufValueTypeName(elem_type), GgufValueTypeName(v->array.elem_type));
  }
  return &v->array;
}

}  // namespace tandem
