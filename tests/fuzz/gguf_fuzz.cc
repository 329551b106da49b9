// libFuzzer entry for the GGUF parser: any bytes must come back as a file or an error.
// An accepted file is walked end to end (metadata summaries, typed accessors, every
// tensor's first and last data byte), so a wrong bound shows under ASan.
#include <cstddef>
#include <cstdint>
#include <span>

#include "model/gguf_file.h"

namespace {

void WalkMetadata(const tandem::GgufMetadata& metadata) {
  for (const auto& [key, value] : metadata.entries()) {
    (void)value.Summary();
    (void)metadata.GetU32(key);
    (void)metadata.GetInt(key);
    (void)metadata.GetF32(key);
    (void)metadata.GetString(key);
    (void)metadata.GetArray(key, value.array.elem_type);
  }
}

uint8_t WalkTensors(const tandem::GgufFile& file, std::span<const uint8_t> bytes) {
  uint8_t seen = 0;
  for (const tandem::GgufTensorInfo& t : file.tensors) {
    (void)tandem::TypeName(t.type);
    if (file.data_offset + t.offset + t.nbytes > bytes.size() || t.rows() * t.ne[0] != t.n_elements) {
      __builtin_trap();  // the parser accepted a tensor it should have refused
    }
    const uint8_t* data = bytes.data() + file.data_offset + t.offset;
    seen ^= data[0] ^ data[t.nbytes - 1];
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto file = tandem::ParseGguf(bytes);
  if (!file.ok()) return 0;
  WalkMetadata(file->metadata);
  volatile uint8_t sink = WalkTensors(*file, bytes);
  (void)sink;
  return 0;
}
