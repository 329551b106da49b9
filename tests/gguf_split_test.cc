// Split models as llama.cpp's gguf-split writes them: part 1 holds all metadata, every
// part holds split.no / split.count / split.tensors.count and its own tensors. A good
// split opens whole from its first part; every way the parts can disagree is an error
// that names the file to look at.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "gguf_test_support.h"
#include "model/gguf_model.h"
#include "model/gguf_writer.h"

namespace tandem {
namespace {

using testing::HoldsPattern;
using testing::ScratchDir;

struct SplitTensor {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType type;
};

// Tensors of each part, in order; a tensor's pattern index is its position overall.
const std::vector<std::vector<SplitTensor>>& SplitTensors() {
  static const std::vector<std::vector<SplitTensor>> kParts = {
      {{"token_embd.weight", {16, 4}, GgmlType::F32}, {"blk.0.attn_q.weight", {32, 4}, GgmlType::Q8_0}},
      {{"blk.0.ffn_down.weight", {256, 2}, GgmlType::Q4_K}, {"blk.1.attn_q.weight", {32, 4}, GgmlType::Q8_0}},
      {{"output.weight", {16, 4}, GgmlType::F16}},
  };
  return kParts;
}
constexpr int kSplitCount = 3;
constexpr int kSplitTensorCount = 5;

GgufValue U16(uint64_t v) { return GgufValue::Uint(GgufValueType::UINT16, v); }

std::vector<GgufWriter> SplitParts() {
  std::vector<GgufWriter> parts(kSplitCount);
  parts[0].metadata().Set("general.architecture", GgufValue::String("llama"));
  parts[0].metadata().Set("llama.block_count", GgufValue::U32(2));
  for (int p = 0; p < kSplitCount; ++p) {
    parts[p].metadata().Set("split.no", U16(p));
    parts[p].metadata().Set("split.count", U16(kSplitCount));
    parts[p].metadata().Set("split.tensors.count", GgufValue::I32(kSplitTensorCount));
    for (const auto& t : SplitTensors()[p]) parts[p].AddTensor(t.name, t.ne, t.type);
  }
  return parts;
}

// Writes model-0000k-of-0000N.gguf into `dir`; returns their paths, part 1 first.
std::vector<std::string> WriteParts(const ScratchDir& dir, const std::vector<GgufWriter>& parts) {
  std::vector<std::string> paths;
  size_t first_index = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    std::string path = SplitPath(dir.File("model"), static_cast<int>(p + 1), static_cast<int>(parts.size()));
    auto fill = [first_index](size_t index, std::span<uint8_t> dst) {
      return testing::FillPattern(first_index + index, dst);
    };
    Status st = parts[p].WriteFile(path, fill, false);
    EXPECT_TRUE(st.ok()) << st.message();
    first_index += parts[p].tensors().size();
    paths.push_back(path);
  }
  return paths;
}

TEST(GgufSplit, OpensAllPartsFromTheFirst) {
  ScratchDir dir;
  std::vector<GgufWriter> parts = SplitParts();
  std::vector<std::string> paths = WriteParts(dir, parts);
  auto model = GgufModel::Open(paths[0]);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(model->part_count(), 3u);
  EXPECT_EQ(model->architecture(), "llama");
  EXPECT_EQ(*model->metadata().GetU32("llama.block_count"), 2u);
  uint64_t total_bytes = 0;
  for (const auto& part : parts) total_bytes += part.file_bytes();
  EXPECT_EQ(model->file_bytes(), total_bytes);
  ASSERT_EQ(model->tensors().size(), static_cast<size_t>(kSplitTensorCount));
  size_t index = 0;
  for (size_t p = 0; p < SplitTensors().size(); ++p) {
    for (const SplitTensor& spec : SplitTensors()[p]) {
      SCOPED_TRACE(spec.name);
      auto t = model->Get(spec.name);
      ASSERT_TRUE(t.ok()) << t.status().message();
      EXPECT_EQ((*t)->part, static_cast<int>(p));
      EXPECT_EQ((*t)->info.ne, spec.ne);
      EXPECT_EQ((*t)->type(), spec.type);
      EXPECT_TRUE(HoldsPattern(index, (*t)->data, (*t)->info.nbytes));
      ++index;
    }
  }
}

struct SplitError {
  std::string name;
  std::function<void(std::vector<GgufWriter>&)> change;  // to the parts before writing
  int remove_part = 0;                                  // 1-based part to delete; 0: none
  std::string open;  // "part1", "part2" or a plain file name (part 1's copy)
  std::vector<std::string> expected;  // substrings; {part1} {part2} {part3} stand for the paths
};

std::vector<SplitError> SplitErrors() {
  auto set_in_all = [](std::string key, GgufValue value) {
    return [key, value](std::vector<GgufWriter>& parts) {
      for (auto& part : parts) part.metadata().Set(key, value);
    };
  };
  return {
      {"second part opened", [](auto&) {}, 0, "part2",
       {"{part2} is part 2 of a 3-part split model: open the first part ({part1})"}},
      {"missing part", [](auto&) {}, 3, "part1", {"split part 3 of 3: cannot open {part3}"}},
      {"mismatched split.count", [](auto& parts) { parts[1].metadata().Set("split.count", U16(4)); }, 0, "part1",
       {"{part2} does not belong with {part1}: it says part 2 of 4"}},
      {"wrong split.no", [](auto& parts) { parts[2].metadata().Set("split.no", U16(1)); }, 0, "part1",
       {"{part3} does not belong with {part1}: it says part 2 of 3", "expected part 3 of 3"}},
      {"later part without split keys", [](auto& parts) { parts[1] = GgufWriter(); }, 0, "part1",
       {"{part2} does not belong with {part1}: it says part 1 of 1 with 0 tensors"}},
      {"tensor total too high", set_in_all("split.tensors.count", GgufValue::I32(6)), 0, "part1",
       {"split model {part1} declares 6 tensors (split.tensors.count) but its 3 parts hold 5"}},
      {"tensor total too low", set_in_all("split.tensors.count", GgufValue::I32(4)), 0, "part1",
       {"declares 4 tensors", "hold 5"}},
      {"tensor in two parts", [](auto& parts) { parts[2].AddTensor("blk.0.attn_q.weight", {32, 4}, GgmlType::Q8_0); },
       0, "part1", {"tensor 'blk.0.attn_q.weight' appears in two split parts (second: {part3})"}},
      {"split.count of zero", set_in_all("split.count", U16(0)), 0, "part1",
       {"{part1}: split.no 0 / split.count 0 are inconsistent"}},
      {"split.no past split.count", [](auto& parts) { parts[0].metadata().Set("split.no", U16(3)); }, 0, "part1",
       {"split.no 3 / split.count 3 are inconsistent"}},
      {"split.count not an integer", set_in_all("split.count", GgufValue::String("3")), 0, "part1",
       {"{part1}: metadata key 'split.count': expected a non-negative integer, file has string"}},
      {"name without the split pattern", [](auto&) {}, 0, "model.gguf",
       {"model.gguf says split.count = 3 but its name does not follow NAME-00001-of-00003.gguf"}},
  };
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST(GgufSplit, DisagreeingPartsAreErrorsNamingTheFile) {
  for (const SplitError& c : SplitErrors()) {
    SCOPED_TRACE(c.name);
    ScratchDir dir;
    std::vector<GgufWriter> parts = SplitParts();
    c.change(parts);
    std::vector<std::string> paths = WriteParts(dir, parts);
    if (c.remove_part > 0) {
      ASSERT_EQ(std::remove(paths[c.remove_part - 1].c_str()), 0);
    }
    std::string open = c.open == "part1" ? paths[0] : c.open == "part2" ? paths[1] : dir.File(c.open);
    if (c.open == "model.gguf") std::filesystem::copy_file(paths[0], open);
    auto model = GgufModel::Open(open);
    ASSERT_FALSE(model.ok());
    for (std::string expected : c.expected) {
      for (int p = 0; p < kSplitCount; ++p) {
        expected = ReplaceAll(expected, "{part" + std::to_string(p + 1) + "}", paths[p]);
      }
      EXPECT_NE(model.status().message().find(expected), std::string::npos)
          << "expected: " << expected << "\n got: " << model.status().message();
    }
  }
}

TEST(GgufSplit, SplitNamesParseAndFormat) {
  SplitName name = ParseSplitName("/models/big-00002-of-00010.gguf");
  EXPECT_EQ(name.prefix, "/models/big");
  EXPECT_EQ(name.number, 2);
  EXPECT_EQ(name.count, 10);
  EXPECT_EQ(SplitPath(name.prefix, 1, name.count), "/models/big-00001-of-00010.gguf");
  for (const char* plain :
       {"/models/big.gguf", "big-0001-of-00010.gguf", "big-00001-of-00010.bin", "00001-of-00002.gguf"}) {
    EXPECT_EQ(ParseSplitName(plain).count, 0) << plain;
  }
}

}  // namespace
}  // namespace tandem
