// GGUF reader and writer: every value type round-trips, typed accessors fail with
// messages that name the key, tensors of many types and shapes keep their bytes, custom
// alignment and v2 files read, the real Qwen2 vocab file opens, unsupported types are
// refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "gguf_test_support.h"
#include "model/gguf_file.h"
#include "model/gguf_model.h"
#include "model/gguf_writer.h"

namespace tandem {
namespace {

using testing::FillPattern;
using testing::HoldsPattern;
using testing::SameValue;
using testing::ScratchDir;
using testing::WriteToMemory;
using VT = GgufValueType;

GgufValue F64(double v) {
  GgufValue value;
  value.type = VT::FLOAT64;
  value.f = v;
  return value;
}

GgufArray UintArray(VT type, std::vector<uint64_t> v) {
  GgufArray a;
  a.elem_type = type;
  a.uints = std::move(v);
  return a;
}

GgufArray IntArray(VT type, std::vector<int64_t> v) {
  GgufArray a;
  a.elem_type = type;
  a.ints = std::move(v);
  return a;
}

GgufArray FloatArray(VT type, std::vector<double> v) {
  GgufArray a;
  a.elem_type = type;
  a.floats = std::move(v);
  return a;
}

GgufArray StringArray(std::vector<std::string> v) {
  GgufArray a;
  a.elem_type = VT::STRING;
  a.strings = std::move(v);
  return a;
}

GgufArray ArrayOfArrays(std::vector<GgufArray> v) {
  GgufArray a;
  a.elem_type = VT::ARRAY;
  a.arrays = std::move(v);
  return a;
}

struct NamedValue {
  std::string key;
  GgufValue value;
};

// One of every value type, extremes of each range, empty strings and arrays, nesting.
std::vector<NamedValue> EveryValueType() {
  return {
      {"scalar.u8", GgufValue::Uint(VT::UINT8, 255)},
      {"scalar.i8", GgufValue::Int(VT::INT8, -128)},
      {"scalar.u16", GgufValue::Uint(VT::UINT16, 65535)},
      {"scalar.i16", GgufValue::Int(VT::INT16, -32768)},
      {"scalar.u32", GgufValue::U32(std::numeric_limits<uint32_t>::max())},
      {"scalar.i32", GgufValue::I32(std::numeric_limits<int32_t>::min())},
      {"scalar.f32", GgufValue::F32(-1.5e-7f)},
      {"scalar.bool.true", GgufValue::Bool(true)},
      {"scalar.bool.false", GgufValue::Bool(false)},
      {"scalar.string", GgufValue::String(std::string("h\xc3\xa9llo\nworld\0!", 14))},
      {"scalar.string.empty", GgufValue::String("")},
      {"scalar.u64", GgufValue::Uint(VT::UINT64, std::numeric_limits<uint64_t>::max())},
      {"scalar.i64", GgufValue::Int(VT::INT64, std::numeric_limits<int64_t>::min())},
      {"scalar.f64", F64(-1e300)},
      {"array.u8", GgufValue::Array(UintArray(VT::UINT8, {0, 1, 255}))},
      {"array.i8", GgufValue::Array(IntArray(VT::INT8, {-128, 0, 127}))},
      {"array.u16", GgufValue::Array(UintArray(VT::UINT16, {65535, 7}))},
      {"array.i16", GgufValue::Array(IntArray(VT::INT16, {-32768, 32767}))},
      {"array.u32", GgufValue::Array(UintArray(VT::UINT32, {4294967295u}))},
      {"array.i32", GgufValue::I32Array({-1, 0, 2147483647})},
      {"array.f32", GgufValue::F32Array({0.5f, -2.0f, std::numeric_limits<float>::infinity()})},
      {"array.bool", GgufValue::Array(UintArray(VT::BOOL, {1, 0, 1}))},
      {"array.string", GgufValue::StringArray({"<s>", "", "\xe2\x96\x81hello"})},
      {"array.u64", GgufValue::Array(UintArray(VT::UINT64, {std::numeric_limits<uint64_t>::max(), 0}))},
      {"array.i64", GgufValue::Array(IntArray(VT::INT64, {std::numeric_limits<int64_t>::min()}))},
      {"array.f64", GgufValue::Array(FloatArray(VT::FLOAT64, {1e-300, -0.25}))},
      {"array.string.empty", GgufValue::StringArray({})},
      {"array.i32.empty", GgufValue::I32Array({})},
      {"array.of.string.arrays",
       GgufValue::Array(ArrayOfArrays({StringArray({"a", "bc"}), StringArray({}), StringArray({"", "x"})}))},
      {"array.of.empty.arrays", GgufValue::Array(ArrayOfArrays({ArrayOfArrays({}), StringArray({})}))},
      {"array.three.deep",
       GgufValue::Array(ArrayOfArrays({ArrayOfArrays({UintArray(VT::UINT8, {1, 2}), IntArray(VT::INT64, {-3})})}))},
      {"array.of.arrays.empty", GgufValue::Array(ArrayOfArrays({}))},
  };
}

TEST(GgufValues, EveryTypeRoundTripsInOrder) {
  GgufWriter writer;
  std::vector<NamedValue> values = EveryValueType();
  for (const auto& [key, value] : values) writer.metadata().Set(key, value);
  auto file = ParseGguf(WriteToMemory(writer));
  ASSERT_TRUE(file.ok()) << file.status().message();
  const auto& entries = file->metadata.entries();
  ASSERT_EQ(entries.size(), values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    SCOPED_TRACE(values[k].key);
    EXPECT_EQ(entries[k].first, values[k].key);
    EXPECT_TRUE(SameValue(entries[k].second, values[k].value)) << entries[k].second.Summary();
    ASSERT_NE(file->metadata.Find(values[k].key), nullptr);
  }
  EXPECT_TRUE(file->tensors.empty());
}

TEST(GgufValues, MetadataKeepsFileOrder) {
  const std::vector<std::string> keys = {"zeta", "alpha", "mid.key", "beta", "a"};
  GgufWriter writer;
  for (size_t k = 0; k < keys.size(); ++k) writer.metadata().Set(keys[k], GgufValue::U32(static_cast<uint32_t>(k)));
  auto file = ParseGguf(WriteToMemory(writer));
  ASSERT_TRUE(file.ok()) << file.status().message();
  std::vector<std::string> read;
  for (const auto& [key, value] : file->metadata.entries()) read.push_back(key);
  EXPECT_EQ(read, keys);
}

TEST(GgufValues, SetReplacesInPlace) {
  GgufMetadata md;
  md.Set("first", GgufValue::U32(1));
  md.Set("second", GgufValue::U32(2));
  md.Set("first", GgufValue::String("again"));
  ASSERT_EQ(md.entries().size(), 2u);
  EXPECT_EQ(md.entries()[0].first, "first");
  EXPECT_EQ(*md.GetString("first"), "again");
}

GgufMetadata AccessorMetadata() {
  GgufMetadata md;
  md.Set("u32", GgufValue::U32(7));
  md.Set("u16", GgufValue::Uint(VT::UINT16, 9));
  md.Set("i32.positive", GgufValue::I32(12));
  md.Set("i32.negative", GgufValue::I32(-5));
  md.Set("u64.big", GgufValue::Uint(VT::UINT64, 5000000000ull));
  md.Set("u64.max", GgufValue::Uint(VT::UINT64, std::numeric_limits<uint64_t>::max()));
  md.Set("f32", GgufValue::F32(0.25f));
  md.Set("f64", F64(1.5));
  md.Set("f64.huge", F64(1e300));
  md.Set("bool", GgufValue::Bool(true));
  md.Set("string", GgufValue::String("text"));
  md.Set("strings", GgufValue::StringArray({"a", "b"}));
  md.Set("i16s", GgufValue::Array(IntArray(VT::INT16, {1, -2})));
  md.Set("bools", GgufValue::Array(UintArray(VT::BOOL, {1})));
  return md;
}

TEST(GgufAccessors, ConvertWhereTheValueFits) {
  GgufMetadata md = AccessorMetadata();
  EXPECT_EQ(*md.GetU32("u32"), 7u);
  EXPECT_EQ(*md.GetU32("u16"), 9u);
  EXPECT_EQ(*md.GetU32("i32.positive"), 12u);
  EXPECT_EQ(*md.GetUint("u64.big"), 5000000000ull);
  EXPECT_EQ(*md.GetInt("i32.negative"), -5);
  EXPECT_EQ(*md.GetInt("u64.big"), 5000000000ll);
  EXPECT_EQ(*md.GetF32("f32"), 0.25f);
  EXPECT_EQ(*md.GetF32("f64"), 1.5f);
  EXPECT_TRUE(*md.GetBool("bool"));
  EXPECT_EQ(*md.GetString("string"), "text");
  EXPECT_EQ((*md.GetArray("strings", VT::STRING))->strings, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*md.GetArray("i16s", VT::INT32))->ints, (std::vector<int64_t>{1, -2}));
  EXPECT_EQ((*md.GetArray("bools", VT::BOOL))->uints, (std::vector<uint64_t>{1}));
}

struct AccessorError {
  std::string name;
  std::function<Status(const GgufMetadata&)> call;
  std::string expected;
};

TEST(GgufAccessors, ErrorsNameTheKeyAndWhatItHolds) {
  const std::vector<AccessorError> cases = {
      {"missing key", [](const GgufMetadata& md) { return md.GetU32("nope").status(); },
       "metadata key 'nope' is missing"},
      {"missing array", [](const GgufMetadata& md) { return md.GetArray("nope", VT::STRING).status(); },
       "metadata key 'nope' is missing"},
      {"string as integer", [](const GgufMetadata& md) { return md.GetU32("string").status(); },
       "metadata key 'string': expected a non-negative integer, file has string \"text\""},
      {"integer as string", [](const GgufMetadata& md) { return md.GetString("u32").status(); },
       "metadata key 'u32': expected a string, file has u32 7"},
      {"u64 into u32", [](const GgufMetadata& md) { return md.GetU32("u64.big").status(); },
       "metadata key 'u64.big': value 5000000000 does not fit in 32 bits"},
      {"negative into GetUint", [](const GgufMetadata& md) { return md.GetUint("i32.negative").status(); },
       "metadata key 'i32.negative': expected a non-negative integer, file has i32 -5"},
      {"negative into GetU32", [](const GgufMetadata& md) { return md.GetU32("i32.negative").status(); },
       "file has i32 -5"},
      {"bool as integer", [](const GgufMetadata& md) { return md.GetUint("bool").status(); },
       "metadata key 'bool': expected a non-negative integer, file has bool true"},
      {"u64 max into GetInt", [](const GgufMetadata& md) { return md.GetInt("u64.max").status(); },
       "metadata key 'u64.max': expected an integer, file has u64 18446744073709551615"},
      {"integer as float", [](const GgufMetadata& md) { return md.GetF32("u32").status(); },
       "metadata key 'u32': expected a float, file has u32 7"},
      {"f64 beyond f32", [](const GgufMetadata& md) { return md.GetF32("f64.huge").status(); },
       "metadata key 'f64.huge': value 1e+300 does not fit in f32"},
      {"integer as bool", [](const GgufMetadata& md) { return md.GetBool("u16").status(); },
       "metadata key 'u16': expected a bool, file has u16 9"},
      {"scalar as array", [](const GgufMetadata& md) { return md.GetArray("u32", VT::INT32).status(); },
       "metadata key 'u32': expected an array of i32, file has u32 7"},
      {"wrong element type", [](const GgufMetadata& md) { return md.GetArray("strings", VT::INT32).status(); },
       "metadata key 'strings': expected an array of i32, file has an array of string"},
      {"bools as integers", [](const GgufMetadata& md) { return md.GetArray("bools", VT::UINT8).status(); },
       "expected an array of u8, file has an array of bool"},
  };
  GgufMetadata md = AccessorMetadata();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Status st = c.call(md);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find(c.expected), std::string::npos) << st.message();
  }
}

struct TypeGeometry {
  GgmlType type;
  uint32_t block_size;
  uint32_t block_bytes;
};

// Block geometry from ggml's block structs (ggml-common.h static_asserts), typed in
// independently of the table in ggml_type.cc.
TEST(GgmlTypes, GeometryMatchesGgml) {
  const std::vector<TypeGeometry> ggml = {
      {GgmlType::F32, 1, 4},        {GgmlType::F16, 1, 2},        {GgmlType::Q4_0, 32, 18},
      {GgmlType::Q4_1, 32, 20},     {GgmlType::Q5_0, 32, 22},     {GgmlType::Q5_1, 32, 24},
      {GgmlType::Q8_0, 32, 34},     {GgmlType::Q8_1, 32, 36},     {GgmlType::Q2_K, 256, 84},
      {GgmlType::Q3_K, 256, 110},   {GgmlType::Q4_K, 256, 144},   {GgmlType::Q5_K, 256, 176},
      {GgmlType::Q6_K, 256, 210},   {GgmlType::Q8_K, 256, 292},   {GgmlType::IQ2_XXS, 256, 66},
      {GgmlType::IQ2_XS, 256, 74},  {GgmlType::IQ3_XXS, 256, 98}, {GgmlType::IQ1_S, 256, 50},
      {GgmlType::IQ4_NL, 32, 18},   {GgmlType::IQ3_S, 256, 110},  {GgmlType::IQ2_S, 256, 82},
      {GgmlType::IQ4_XS, 256, 136}, {GgmlType::I8, 1, 1},         {GgmlType::I16, 1, 2},
      {GgmlType::I32, 1, 4},        {GgmlType::I64, 1, 8},        {GgmlType::F64, 1, 8},
      {GgmlType::IQ1_M, 256, 56},   {GgmlType::BF16, 1, 2},       {GgmlType::TQ1_0, 256, 54},
      {GgmlType::TQ2_0, 256, 66},   {GgmlType::MXFP4, 32, 17},
  };
  for (const auto& g : ggml) {
    auto info = FindTypeInfo(static_cast<uint32_t>(g.type));
    ASSERT_TRUE(info.has_value()) << static_cast<uint32_t>(g.type);
    EXPECT_EQ(info->block_size, g.block_size) << info->name;
    EXPECT_EQ(info->block_bytes, g.block_bytes) << info->name;
  }
  for (uint32_t retired : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u}) {
    EXPECT_FALSE(FindTypeInfo(retired).has_value()) << retired;
  }
}

struct TensorSpec {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType type;
  uint64_t nbytes;  // from ggml's block sizes, independent of the type table
};

// Several types and 1..4 dimensions; sizes that need padding between tensors.
const std::vector<TensorSpec>& Tensors() {
  static const std::vector<TensorSpec> kTensors = {
      {"f32.matrix", {8, 3}, GgmlType::F32, 96},
      {"f16.vector", {17 * 2}, GgmlType::F16, 68},
      {"bf16.four.dims", {4, 2, 2, 2}, GgmlType::BF16, 64},
      {"q8_0.matrix", {64, 3}, GgmlType::Q8_0, 6 * 34},
      {"q4_k.three.dims", {256, 2, 2}, GgmlType::Q4_K, 4 * 144},
      {"q6_k.row", {512}, GgmlType::Q6_K, 2 * 210},
      {"q4_0.rows", {32, 5}, GgmlType::Q4_0, 5 * 18},
      {"mxfp4.row", {64, 1}, GgmlType::MXFP4, 2 * 17},
  };
  return kTensors;
}

GgufWriter TensorModel(uint32_t alignment) {
  GgufWriter writer(alignment);
  writer.metadata().Set("general.architecture", GgufValue::String("test"));
  for (const auto& t : Tensors()) writer.AddTensor(t.name, t.ne, t.type);
  return writer;
}

void ExpectTensorsRoundTrip(const GgufFile& file, std::span<const uint8_t> bytes, uint32_t alignment) {
  EXPECT_EQ(file.alignment, alignment);
  EXPECT_EQ(file.data_offset % alignment, 0u);
  ASSERT_EQ(file.tensors.size(), Tensors().size());
  for (size_t k = 0; k < Tensors().size(); ++k) {
    const TensorSpec& spec = Tensors()[k];
    const GgufTensorInfo& t = file.tensors[k];
    SCOPED_TRACE(spec.name);
    EXPECT_EQ(t.name, spec.name);
    EXPECT_EQ(t.ne, spec.ne);
    EXPECT_EQ(t.type, spec.type);
    EXPECT_EQ(t.nbytes, spec.nbytes);
    EXPECT_EQ(t.offset % alignment, 0u);
    EXPECT_EQ(t.rows() * spec.ne[0], t.n_elements);
    ASSERT_LE(file.data_offset + t.offset + t.nbytes, bytes.size());
    EXPECT_TRUE(HoldsPattern(k, bytes.data() + file.data_offset + t.offset, t.nbytes));
  }
}

TEST(GgufTensors, RoundTripWithDefaultAndCustomAlignment) {
  for (uint32_t alignment : {32u, 64u}) {
    SCOPED_TRACE(alignment);
    GgufWriter writer = TensorModel(alignment);
    std::vector<uint8_t> bytes = WriteToMemory(writer);
    EXPECT_EQ(bytes.size(), writer.file_bytes());
    auto file = ParseGguf(bytes);
    ASSERT_TRUE(file.ok()) << file.status().message();
    ExpectTensorsRoundTrip(*file, bytes, alignment);
    const GgufValue* key = file->metadata.Find("general.alignment");
    if (alignment == kGgufDefaultAlignment) {
      EXPECT_EQ(key, nullptr);
    } else {
      ASSERT_NE(key, nullptr);
      EXPECT_EQ(key->type, VT::UINT32);
      EXPECT_EQ(key->u, alignment);
    }
  }
}

TEST(GgufTensors, WriteFileMatchesWriteMemoryAndOpensMapped) {
  ScratchDir dir;
  GgufWriter writer = TensorModel(64);
  std::string path = dir.File("model.gguf");
  ASSERT_TRUE(writer.WriteFile(path, FillPattern, false).ok());
  auto model = GgufModel::Open(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(model->version(), 3u);
  EXPECT_EQ(model->part_count(), 1u);
  EXPECT_EQ(model->file_bytes(), writer.file_bytes());
  EXPECT_EQ(model->architecture(), "test");
  ASSERT_EQ(model->tensors().size(), Tensors().size());
  for (size_t k = 0; k < Tensors().size(); ++k) {
    auto t = model->Get(Tensors()[k].name);
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ((*t)->part, 0);
    EXPECT_EQ((*t)->info.nbytes, Tensors()[k].nbytes);
    EXPECT_TRUE(HoldsPattern(k, (*t)->data, (*t)->info.nbytes)) << Tensors()[k].name;
  }
  auto missing = model->Get("no.such.tensor");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("tensor 'no.such.tensor' not found in " + path), std::string::npos);
}

TEST(GgufTensors, VersionTwoIsAccepted) {
  std::vector<uint8_t> bytes = WriteToMemory(TensorModel(32));
  testing::Patch<uint32_t>(bytes, 4, 2);
  auto file = ParseGguf(bytes);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->version, 2u);
  ExpectTensorsRoundTrip(*file, bytes, 32);

  ScratchDir dir;
  std::string path = dir.File("v2.gguf");
  testing::WriteBytes(path, bytes);
  auto model = GgufModel::Open(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(model->version(), 2u);
}

TEST(GgufTensors, UnsupportedTypeIsRefusedByName) {
  GgufWriter writer;
  writer.AddTensor("token_embd.weight", {8, 2}, GgmlType::F32);
  writer.AddTensor("blk.0.ffn_down.weight", {256, 2}, GgmlType::IQ2_XXS);
  std::vector<uint8_t> bytes = WriteToMemory(writer);
  auto file = ParseGguf(bytes);
  ASSERT_TRUE(file.ok()) << "the parser knows IQ2_XXS geometry: " << file.status().message();
  EXPECT_EQ(file->tensors[1].nbytes, 2u * 66);

  ScratchDir dir;
  std::string path = dir.File("iq2.gguf");
  testing::WriteBytes(path, bytes);
  auto model = GgufModel::Open(path);
  ASSERT_FALSE(model.ok());
  const std::string& message = model.status().message();
  EXPECT_NE(message.find("unsupported tensor type IQ2_XXS in tensor 'blk.0.ffn_down.weight'"), std::string::npos)
      << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(GgufVocab, QwenVocabFileOpens) {
  auto model = GgufModel::Open(TANDEM_TEST_DATA_DIR "/vocab-qwen2.gguf");
  ASSERT_TRUE(model.ok()) << model.status().message();
  const GgufMetadata& md = model->metadata();
  auto tokens = md.GetArray("tokenizer.ggml.tokens", VT::STRING);
  ASSERT_TRUE(tokens.ok()) << tokens.status().message();
  EXPECT_EQ((*tokens)->size(), 151936u);
  auto merges = md.GetArray("tokenizer.ggml.merges", VT::STRING);
  ASSERT_TRUE(merges.ok()) << merges.status().message();
  EXPECT_EQ((*merges)->size(), 151387u);
  EXPECT_EQ(*md.GetString("tokenizer.ggml.pre"), "qwen2");
  EXPECT_TRUE(model->tensors().empty());
}

}  // namespace
}  // namespace tandem
