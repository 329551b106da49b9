// Prints what tandem's GGUF reader sees in a file as JSON (metadata with types, tensor
// infos), for oracle scripts to compare with the gguf Python package.
//   gguf_dump_tool FILE
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "model/gguf_model.h"

namespace {

// Strings as hex: tokens need not be valid UTF-8, and JSON must be.
std::string Hex(const std::string& s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

nlohmann::json ArrayJson(const tandem::GgufArray& a) {
  using tandem::GgufValueType;
  nlohmann::json items = nlohmann::json::array();
  if (a.elem_type == GgufValueType::BOOL) {
    for (uint64_t u : a.uints) items.push_back(u != 0);
  } else if (tandem::IsUnsignedType(a.elem_type)) {
    for (uint64_t u : a.uints) items.push_back(u);
  } else if (tandem::IsSignedType(a.elem_type)) {
    for (int64_t i : a.ints) items.push_back(i);
  } else if (tandem::IsFloatType(a.elem_type)) {
    for (double f : a.floats) items.push_back(f);
  } else if (a.elem_type == GgufValueType::STRING) {
    for (const auto& s : a.strings) items.push_back(Hex(s));
  } else {
    for (const auto& nested : a.arrays) items.push_back(ArrayJson(nested));
  }
  return {{"elem_type", static_cast<int>(a.elem_type)}, {"items", items}};
}

nlohmann::json ValueJson(const tandem::GgufValue& v) {
  using tandem::GgufValueType;
  nlohmann::json j = {{"type", static_cast<int>(v.type)}};
  if (v.type == GgufValueType::BOOL) {
    j["value"] = v.u != 0;
  } else if (tandem::IsUnsignedType(v.type)) {
    j["value"] = v.u;
  } else if (tandem::IsSignedType(v.type)) {
    j["value"] = v.i;
  } else if (tandem::IsFloatType(v.type)) {
    j["value"] = v.f;
  } else if (v.type == GgufValueType::STRING) {
    j["value"] = Hex(v.s);
  } else {
    j["value"] = ArrayJson(v.array);
  }
  return j;
}

// Position-weighted sum of a tensor's bytes mod 2^64 (cheap to compute with numpy):
// proves both readers find the same data.
uint64_t Checksum(const uint8_t* data, uint64_t n) {
  uint64_t h = 0;
  for (uint64_t k = 0; k < n; ++k) h += (uint64_t{data[k]} + 1) * (k * 2654435761ull + 1);
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gguf_dump_tool FILE\n");
    return 2;
  }
  auto model = tandem::GgufModel::Open(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "error: %s\n", model.status().message().c_str());
    return 1;
  }
  nlohmann::json out;
  out["metadata"] = nlohmann::json::array();
  for (const auto& [key, value] : model->metadata().entries()) {
    nlohmann::json entry = ValueJson(value);
    entry["key"] = key;
    out["metadata"].push_back(entry);
  }
  out["tensors"] = nlohmann::json::array();
  for (const auto& t : model->tensors()) {
    out["tensors"].push_back({{"name", t.name()},
                              {"ne", t.info.ne},
                              {"type", static_cast<int>(t.type())},
                              {"offset", t.info.offset},
                              {"nbytes", t.info.nbytes},
                              {"checksum", Checksum(t.data, t.info.nbytes)}});
  }
  std::cout << out.dump() << "\n";
  return 0;
}
