// GGUF metadata values (every GGUF value type, arrays nested to any depth) and the
// ordered key/value table with typed accessors whose errors name the key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tandem {

enum class GgufValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
constexpr uint32_t kGgufValueTypeCount = 13;

std::string_view GgufValueTypeName(GgufValueType type);  // "u32", "string", "array"...
bool IsUnsignedType(GgufValueType type);                  // UINT8..UINT64 and BOOL
bool IsSignedType(GgufValueType type);                    // INT8..INT64
bool IsFloatType(GgufValueType type);                     // FLOAT32, FLOAT64

// An array holds one element type; elements live in the vector of their kind.
struct GgufArray {
  GgufValueType elem_type = GgufValueType::UINT8;
  std::vector<uint64_t> uints;      // UINT8/16/32/64 and BOOL
  std::vector<int64_t> ints;        // INT8/16/32/64
  std::vector<double> floats;       // FLOAT32 (exactly representable) and FLOAT64
  std::vector<std::string> strings;  // STRING
  std::vector<GgufArray> arrays;    // ARRAY (nested)

  size_t size() const;
};

struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  uint64_t u = 0;     // unsigned types and BOOL
  int64_t i = 0;      // signed types
  double f = 0;       // float types
  std::string s;      // STRING
  GgufArray array;    // ARRAY

  static GgufValue Uint(GgufValueType type, uint64_t v);
  static GgufValue Int(GgufValueType type, int64_t v);
  static GgufValue U32(uint32_t v) { return Uint(GgufValueType::UINT32, v); }
  static GgufValue I32(int32_t v) { return Int(GgufValueType::INT32, v); }
  static GgufValue F32(float v);
  static GgufValue Bool(bool v) { return Uint(GgufValueType::BOOL, v ? 1 : 0); }
  static GgufValue String(std::string v);
  static GgufValue Array(GgufArray v);
  static GgufValue StringArray(std::vector<std::string> v);
  static GgufValue I32Array(const std::vector<int32_t>& v);
  static GgufValue F32Array(const std::vector<float>& v);

  // Short human form: 42, "text", [array of 151643 string].
  std::string Summary() const;
};

// Key/value metadata in file order, with lookup by key.
class GgufMetadata {
 public:
  // Adds or replaces.
  void Set(std::string key, GgufValue value);
  const GgufValue* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }
  const std::vector<std::pair<std::string, GgufValue>>& entries() const { return entries_; }

  // Typed accessors: an error names the key and what it holds instead. Integer
  // accessors take any integer type whose value fits; float ones take f32 or f64.
  Expected<uint64_t> GetUint(std::string_view key) const;
  Expected<uint32_t> GetU32(std::string_view key) const;
  Expected<int64_t> GetInt(std::string_view key) const;
  Expected<float> GetF32(std::string_view key) const;
  Expected<bool> GetBool(std::string_view key) const;
  Expected<std::string> GetString(std::string_view key) const;
  Expected<const GgufArray*> GetArray(std::string_view key, GgufValueType elem_type) const;

 private:
  Expected<const GgufValue*> Require(std::string_view key) const;

  std::vector<std::pair<std::string, GgufValue>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace tandem
