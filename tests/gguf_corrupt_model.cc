#include "gguf_corrupt_model.h"

#include <gtest/gtest.h>

#include "gguf_test_support.h"

namespace tandem::testing {
namespace {

constexpr uint64_t kHeaderBytes = 24;  // magic, version, tensor count, metadata count

uint64_t EncodedSize(const GgufValue& value) {
  std::vector<uint8_t> out;
  EncodeGgufValue(value, out);
  return out.size();
}

CorruptionBase BuildBase() {
  GgufWriter writer = CorruptionBaseWriter();
  CorruptionBase base;
  base.bytes = WriteToMemory(writer);
  uint64_t pos = kHeaderBytes;
  for (const auto& [key, value] : writer.metadata().entries()) {
    KvLayout kv;
    kv.key = key;
    kv.start = pos;
    kv.type_at = pos + 8 + key.size();
    kv.value_at = kv.type_at + 4;
    kv.end = kv.value_at + EncodedSize(value);
    pos = kv.end;
    base.kvs.push_back(kv);
  }
  for (const GgufTensorInfo& info : writer.tensors()) {
    TensorInfoLayout t;
    t.name = info.name;
    t.start = pos;
    t.n_dims_at = pos + 8 + info.name.size();
    t.dims_at = t.n_dims_at + 4;
    t.type_at = t.dims_at + 8 * info.ne.size();
    t.offset_at = t.type_at + 4;
    t.end = t.offset_at + 8;
    pos = t.end;
    base.tensors.push_back(t);
  }
  base.head_end = pos;
  base.data_offset = (pos + kGgufDefaultAlignment - 1) / kGgufDefaultAlignment * kGgufDefaultAlignment;
  return base;
}

}  // namespace

GgufWriter CorruptionBaseWriter() {
  GgufWriter writer;
  GgufMetadata& md = writer.metadata();
  md.Set("general.architecture", GgufValue::String("llama"));
  md.Set("general.name", GgufValue::String("tiny corrupt"));
  md.Set("test.count", GgufValue::U32(7));
  md.Set("test.scale", GgufValue::F32(0.5f));
  md.Set("test.flag", GgufValue::Bool(true));
  md.Set("tokenizer.ggml.tokens", GgufValue::StringArray({"<s>", "hello", "world", ""}));
  md.Set("test.key_a", GgufValue::I32(1));
  md.Set("test.key_b", GgufValue::I32(2));
  writer.AddTensor("token_embd.weight", {32, 4}, GgmlType::F32);
  writer.AddTensor("blk.0.attn_q.weight", {64, 2}, GgmlType::Q8_0);
  writer.AddTensor("blk.0.ffn_down.weight", {256, 2}, GgmlType::Q4_K);
  writer.AddTensor("output_norm.weight", {32}, GgmlType::F32);
  return writer;
}

const CorruptionBase& Base() {
  static const CorruptionBase kBase = BuildBase();
  return kBase;
}

const KvLayout& CorruptionBase::Kv(std::string_view key) const {
  for (const auto& kv : kvs) {
    if (kv.key == key) return kv;
  }
  ADD_FAILURE() << "no metadata key " << key << " in the corruption base";
  return kvs.front();
}

const TensorInfoLayout& CorruptionBase::Tensor(std::string_view name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << "no tensor " << name << " in the corruption base";
  return tensors.front();
}

uint64_t CorruptionBase::StringElementAt(std::string_view key, size_t k) const {
  uint64_t pos = Kv(key).value_at + 4 + 8;  // element type, element count
  for (size_t e = 0; e < k; ++e) {
    uint64_t len;
    std::memcpy(&len, bytes.data() + pos, sizeof(len));
    pos += 8 + len;
  }
  return pos;
}

}  // namespace tandem::testing
