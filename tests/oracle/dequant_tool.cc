// Test helper for dequant_oracle.py: runs the CPU quant reference on raw files.
//   dequant_tool TYPE IN OUT            IN: raw blocks of TYPE -> OUT: raw f32 (DequantizeRow)
//   dequant_tool quantize TYPE IN OUT   IN: raw f32 -> OUT: raw blocks of TYPE (QuantizeRow)
// The whole file is one row; its size must be a whole number of blocks.
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "kernels/cpu/quant.h"
#include "model/ggml_type.h"

namespace {

bool ReadFile(const char* path, std::vector<uint8_t>* bytes) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  uint8_t buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) bytes->insert(bytes->end(), buf, buf + got);
  bool ok = std::ferror(f) == 0;
  std::fclose(f);
  return ok;
}

bool WriteFile(const char* path, const void* data, size_t size) {
  std::FILE* f = std::fopen(path, "wb");
  if (f == nullptr) return false;
  bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

int Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "dequant_tool: %s %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quantize = argc == 5 && std::string_view(argv[1]) == "quantize";
  if (argc != 4 && !quantize) {
    std::fprintf(stderr, "usage: dequant_tool [quantize] TYPE IN OUT\n");
    return 2;
  }
  const char* type_name = argv[argc - 3];
  const char* in_path = argv[argc - 2];
  const char* out_path = argv[argc - 1];
  std::optional<tandem::GgmlType> type = tandem::ParseTypeName(type_name);
  if (!type || !tandem::TypeInfo(*type).supported) return Fail("unsupported type", type_name);
  const tandem::GgmlTypeInfo& info = tandem::TypeInfo(*type);

  std::vector<uint8_t> in;
  if (!ReadFile(in_path, &in)) return Fail("cannot read", in_path);
  if (quantize) {
    const size_t n = in.size() / sizeof(float);
    if (in.size() % sizeof(float) != 0 || n % info.block_size != 0) return Fail("not whole blocks of f32:", in_path);
    std::vector<float> values(n);
    std::memcpy(values.data(), in.data(), in.size());
    std::vector<uint8_t> out(tandem::RowBytes(*type, n));
    tandem::QuantizeRow(*type, values.data(), out.data(), static_cast<int64_t>(n));
    if (!WriteFile(out_path, out.data(), out.size())) return Fail("cannot write", out_path);
  } else {
    if (in.size() % info.block_bytes != 0) return Fail("not whole blocks:", in_path);
    const size_t n = in.size() / info.block_bytes * info.block_size;
    std::vector<float> out(n);
    tandem::DequantizeRow(*type, in.data(), out.data(), static_cast<int64_t>(n));
    if (!WriteFile(out_path, out.data(), out.size() * sizeof(float))) return Fail("cannot write", out_path);
  }
  return 0;
}
