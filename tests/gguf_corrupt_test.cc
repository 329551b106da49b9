// A corpus of broken GGUF files, each made from one valid small model by one named
// corruption, and the error each must produce (the field, and where one exists, the
// byte). Then every truncation and 2000 random bit flips of the valid file, which must
// come back as a result, never a crash: under ASan this is the reader's memory-safety
// proof. TANDEM_WRITE_CORPUS=DIR writes the broken files to DIR (fuzzer seeds).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gguf_corrupt_model.h"
#include "gguf_test_support.h"
#include "model/gguf_file.h"
#include "model/gguf_model.h"
#include "model/gguf_writer.h"

namespace tandem {
namespace {

using testing::Base;
using testing::CorruptionBase;
using Bytes = std::vector<uint8_t>;

// Which reader must refuse the file: the parser, or the model loader (via a temp file).
enum class Reader { kParse, kModel };

struct Corruption {
  std::string name;  // also the corpus file name
  std::function<Bytes()> make;
  std::string expected;  // substring of the error message
  Reader reader = Reader::kParse;
};

std::function<Bytes()> Truncated(uint64_t size) {
  return [size] {
    Bytes bytes = Base().bytes;
    bytes.resize(size);
    return bytes;
  };
}

template <typename T>
std::function<Bytes()> Patched(uint64_t at, T value) {
  return [at, value] {
    Bytes bytes = Base().bytes;
    testing::Patch<T>(bytes, at, value);
    return bytes;
  };
}

// Two u64 fields at once (a tensor's two dimensions).
std::function<Bytes()> PatchedBoth(uint64_t at1, uint64_t value1, uint64_t at2, uint64_t value2) {
  return [=] {
    Bytes bytes = Base().bytes;
    testing::Patch<uint64_t>(bytes, at1, value1);
    testing::Patch<uint64_t>(bytes, at2, value2);
    return bytes;
  };
}

// Replaces tensor `name`'s name field (length and bytes) with `new_name`; the rest of
// the head moves, which is fine for errors found while reading tensor infos.
std::function<Bytes()> TensorRenamed(std::string name, std::string new_name) {
  return [name, new_name] {
    Bytes bytes = Base().bytes;
    const auto& t = Base().Tensor(name);
    Bytes encoded;
    EncodeGgufValue(GgufValue::String(new_name), encoded);
    bytes.erase(bytes.begin() + t.start, bytes.begin() + t.n_dims_at);
    bytes.insert(bytes.begin() + t.start, encoded.begin(), encoded.end());
    return bytes;
  };
}

// The base model with changed metadata or tensors, written fresh.
std::function<Bytes()> Rebuilt(std::function<void(GgufWriter&)> change) {
  return [change] {
    GgufWriter writer = testing::CorruptionBaseWriter();
    change(writer);
    return testing::WriteToMemory(writer);
  };
}

// `levels` arrays nested in one another around a u8 array.
GgufValue NestedArray(int levels) {
  GgufArray array;
  array.elem_type = GgufValueType::UINT8;
  array.uints = {1};
  for (int k = 1; k < levels; ++k) {
    GgufArray outer;
    outer.elem_type = GgufValueType::ARRAY;
    outer.arrays.push_back(std::move(array));
    array = std::move(outer);
  }
  return GgufValue::Array(std::move(array));
}

std::vector<Corruption> Corruptions() {
  const CorruptionBase& b = Base();
  const auto& tokens = b.Kv("tokenizer.ggml.tokens");
  const auto& embd = b.Tensor("token_embd.weight");
  const auto& attn_q = b.Tensor("blk.0.attn_q.weight");
  const auto& ffn_down = b.Tensor("blk.0.ffn_down.weight");
  const auto& norm = b.Tensor("output_norm.weight");
  const uint64_t size = b.bytes.size();
  const uint64_t huge = uint64_t{1} << 40;
  return {
      // truncation at many points
      {"truncated empty", Truncated(0), "at byte 0: magic needs 4 bytes, file ends after 0"},
      {"truncated in magic", Truncated(3), "at byte 0: magic needs 4 bytes, file ends after 3"},
      {"truncated in version", Truncated(6), "at byte 4: version needs 4 bytes, file ends after 2"},
      {"truncated in tensor count", Truncated(12), "at byte 8: tensor count needs 8 bytes, file ends after 4"},
      {"truncated in metadata count", Truncated(20), "at byte 16: metadata count needs 8 bytes, file ends after 4"},
      {"truncated after header", Truncated(24), "at byte 16: metadata count 8 cannot fit in the 0 bytes that follow"},
      {"truncated mid key", Truncated(b.Kv("test.key_a").start + 8 + 4),
       fmt::format("at byte {}: key of metadata entry 6 has length 10 but only 4 bytes follow",
                   b.Kv("test.key_a").start)},
      {"truncated mid value type", Truncated(b.Kv("test.flag").type_at + 2),
       fmt::format("at byte {}: type of 'test.flag' needs 4 bytes, file ends after 2", b.Kv("test.flag").type_at)},
      {"truncated mid f32 value", Truncated(b.Kv("test.scale").value_at + 1),
       fmt::format("at byte {}: value of 'test.scale' needs 4 bytes, file ends after 1", b.Kv("test.scale").value_at)},
      {"truncated mid array length", Truncated(tokens.value_at + 4 + 3),
       fmt::format("at byte {}: length of array 'tokenizer.ggml.tokens' needs 8 bytes, file ends after 3",
                   tokens.value_at + 4)},
      {"truncated mid string array", Truncated(b.StringElementAt(tokens.key, 2) + 8 + 2),
       fmt::format("at byte {}: value of 'tokenizer.ggml.tokens' has length 5 but only 2 bytes follow",
                   b.StringElementAt(tokens.key, 2))},
      {"truncated after metadata", Truncated(b.kvs.back().end),
       "at byte 8: tensor count 4 cannot fit in the 0 bytes left after the metadata"},
      {"truncated mid tensor name", Truncated(norm.start + 8 + 5),
       fmt::format("at byte {}: name of tensor 3 has length 18 but only 5 bytes follow", norm.start)},
      {"truncated mid tensor dimension", Truncated(ffn_down.dims_at + 8 + 3),
       fmt::format("at byte {}: dimension 1 of tensor 'blk.0.ffn_down.weight' needs 8 bytes, file ends after 3",
                   ffn_down.dims_at + 8)},
      {"truncated mid tensor offset", Truncated(norm.offset_at + 4),
       fmt::format("at byte {}: offset of tensor 'output_norm.weight' needs 8 bytes, file ends after 4",
                   norm.offset_at)},
      {"truncated at data start", Truncated(b.data_offset),
       fmt::format("tensor 'token_embd.weight' (F32 32x4, 512 bytes at data offset 0) ends past the data section "
                   "(0 bytes from file byte {})",
                   b.data_offset)},
      {"truncated mid data", Truncated(b.data_offset + 700),
       "tensor 'blk.0.ffn_down.weight' (Q4_K 256x2, 288 bytes at data offset 672) ends past the data section (700 "
       "bytes"},
      {"truncated last byte", Truncated(size - 1),
       fmt::format("tensor 'output_norm.weight' (F32 32, 128 bytes at data offset 960) ends past the data section "
                   "({} bytes",
                   size - 1 - b.data_offset)},
      // header
      {"bad magic", Patched<uint32_t>(0, 0x58554747u), "at byte 0: magic is 'GGUX', expected 'GGUF'"},
      {"binary magic", Patched<uint32_t>(0, 0x00010203u), "at byte 0: magic is '?\?\?\?', expected 'GGUF'"},
      {"version 1", Patched<uint32_t>(4, 1), "at byte 4: GGUF version 1 is not supported"},
      {"version 4", Patched<uint32_t>(4, 4), "at byte 4: GGUF version 4, expected 2 or 3"},
      {"big-endian version", Patched<uint32_t>(4, 0x03000000u),
       "at byte 4: GGUF version 50331648, expected 2 or 3 (this looks like a big-endian file"},
      {"huge tensor count", Patched<uint64_t>(8, uint64_t{1} << 62),
       "at byte 8: tensor count 4611686018427387904 cannot fit"},
      {"huge metadata count", Patched<uint64_t>(16, std::numeric_limits<uint64_t>::max()),
       "at byte 16: metadata count 18446744073709551615 cannot fit"},
      // metadata
      {"huge key length", Patched<uint64_t>(b.kvs[0].start, huge),
       "at byte 24: key of metadata entry 0 has length 1099511627776 but only"},
      {"huge string length", Patched<uint64_t>(b.Kv("general.architecture").value_at, huge),
       fmt::format("at byte {}: value of 'general.architecture' has length 1099511627776 but only",
                   b.Kv("general.architecture").value_at)},
      {"huge array length", Patched<uint64_t>(tokens.value_at + 4, uint64_t{1} << 60),
       fmt::format("at byte {}: array 'tokenizer.ggml.tokens' claims 1152921504606846976 elements of string (at "
                   "least 8 bytes each)",
                   tokens.value_at + 4)},
      {"huge string in array", Patched<uint64_t>(b.StringElementAt(tokens.key, 1), huge),
       fmt::format("at byte {}: value of 'tokenizer.ggml.tokens' has length 1099511627776",
                   b.StringElementAt(tokens.key, 1))},
      {"invalid value type", Patched<uint32_t>(b.Kv("test.count").type_at, 13),
       fmt::format("at byte {}: type of 'test.count' is 13, expected a GGUF value type 0..12",
                   b.Kv("test.count").type_at)},
      {"invalid array element type", Patched<uint32_t>(tokens.value_at, 99),
       fmt::format("at byte {}: element type of array 'tokenizer.ggml.tokens' is 99, expected a GGUF value type",
                   tokens.value_at)},
      {"bool of value 7", Patched<uint8_t>(b.Kv("test.flag").value_at, 7),
       fmt::format("at byte {}: value of 'test.flag' is a bool of value 7, expected 0 or 1",
                   b.Kv("test.flag").value_at)},
      {"bool array element of value 2",
       Rebuilt([](GgufWriter& w) {
         GgufArray bools;
         bools.elem_type = GgufValueType::BOOL;
         bools.uints = {1, 0, 2};
         w.metadata().Set("test.bools", GgufValue::Array(bools));
       }),
       "value of 'test.bools' is a bool of value 2"},
      {"nesting deeper than 8", Rebuilt([](GgufWriter& w) { w.metadata().Set("test.nested", NestedArray(9)); }),
       "array 'test.nested' nests deeper than 8 levels"},
      {"duplicate key", Patched<char>(b.Kv("test.key_b").type_at - 1, 'a'),
       fmt::format("at byte {}: metadata key 'test.key_a' appears twice", b.Kv("test.key_b").start)},
      {"alignment 0", Rebuilt([](GgufWriter& w) { w.metadata().Set("general.alignment", GgufValue::U32(0)); }),
       "general.alignment is u32 0, expected a u32 power of two"},
      {"alignment 3", Rebuilt([](GgufWriter& w) { w.metadata().Set("general.alignment", GgufValue::U32(3)); }),
       "general.alignment is u32 3, expected a u32 power of two"},
      {"alignment of type u64",
       Rebuilt([](GgufWriter& w) {
         w.metadata().Set("general.alignment", GgufValue::Uint(GgufValueType::UINT64, 32));
       }),
       "general.alignment is u64 32, expected a u32 power of two"},
      // tensor infos
      {"duplicate tensor name", TensorRenamed(norm.name, embd.name),
       fmt::format("at byte {}: tensor 'token_embd.weight' appears twice", norm.start)},
      {"empty tensor name", TensorRenamed(embd.name, ""),
       fmt::format("at byte {}: tensor 0 has an empty name", embd.start)},
      {"tensor name of 64 bytes", TensorRenamed(attn_q.name, std::string(64, 'x')),
       fmt::format("at byte {}: tensor 1 name is 64 bytes, at most 63 allowed", attn_q.start)},
      {"zero dimensions", Patched<uint32_t>(embd.n_dims_at, 0),
       fmt::format("at byte {}: tensor 'token_embd.weight' has 0 dimensions, expected 1..4", embd.n_dims_at)},
      {"five dimensions", Patched<uint32_t>(embd.n_dims_at, 5),
       fmt::format("at byte {}: tensor 'token_embd.weight' has 5 dimensions, expected 1..4", embd.n_dims_at)},
      {"zero dimension", Patched<uint64_t>(attn_q.dims_at + 8, 0),
       fmt::format("at byte {}: tensor 'blk.0.attn_q.weight' dimension 1 is 0, expected 1..2^63-1",
                   attn_q.dims_at + 8)},
      {"negative dimension", Patched<uint64_t>(embd.dims_at, std::numeric_limits<uint64_t>::max()),
       fmt::format("at byte {}: tensor 'token_embd.weight' dimension 0 is 18446744073709551615", embd.dims_at)},
      {"element count overflow", PatchedBoth(embd.dims_at, huge, embd.dims_at + 8, huge),
       fmt::format("at byte {}: tensor 'token_embd.weight' element count overflows 64 bits", embd.dims_at + 8)},
      {"byte size overflow", PatchedBoth(embd.dims_at, uint64_t{1} << 61, embd.dims_at + 8, 2),
       fmt::format("at byte {}: tensor 'token_embd.weight' byte size overflows 64 bits", embd.type_at)},
      {"unknown tensor type 99", Patched<uint32_t>(attn_q.type_at, 99),
       fmt::format("at byte {}: tensor 'blk.0.attn_q.weight' has unknown type 99", attn_q.type_at)},
      {"retired tensor type 4", Patched<uint32_t>(attn_q.type_at, 4),
       "tensor 'blk.0.attn_q.weight' has unknown type 4"},
      {"row not a multiple of the block size", Patched<uint64_t>(attn_q.dims_at, 48),
       "tensor 'blk.0.attn_q.weight' of type Q8_0 has row length 48, not a multiple of its block size 32"},
      {"unaligned offset", Patched<uint64_t>(attn_q.offset_at, 520),
       fmt::format("at byte {}: tensor 'blk.0.attn_q.weight' offset 520 is not a multiple of the alignment 32",
                   attn_q.offset_at)},
      {"offset past end", Patched<uint64_t>(norm.offset_at, uint64_t{1} << 20),
       "tensor 'output_norm.weight' (F32 32, 128 bytes at data offset 1048576) ends past the data section (1088 "
       "bytes"},
      {"offset wraps around", Patched<uint64_t>(norm.offset_at, std::numeric_limits<uint64_t>::max() - 31),
       "tensor 'output_norm.weight' (F32 32, 128 bytes at data offset 18446744073709551584) ends past the data"},
      {"overlapping tensors", Patched<uint64_t>(attn_q.offset_at, 480),
       "tensor 'blk.0.attn_q.weight' at data offset 480 overlaps tensor 'token_embd.weight' (bytes 0..512)"},
      {"same offset twice", Patched<uint64_t>(norm.offset_at, 672), "overlaps tensor"},
      // refused by the model loader, not the parser
      {"unsupported tensor type IQ2_XXS", Patched<uint32_t>(ffn_down.type_at, 16),
       "unsupported tensor type IQ2_XXS in tensor 'blk.0.ffn_down.weight'", Reader::kModel},
      {"split.count 3 in a plain file",
       Rebuilt([](GgufWriter& w) {
         w.metadata().Set("split.no", GgufValue::Uint(GgufValueType::UINT16, 0));
         w.metadata().Set("split.count", GgufValue::Uint(GgufValueType::UINT16, 3));
         w.metadata().Set("split.tensors.count", GgufValue::I32(4));
       }),
       "says split.count = 3 but its name does not follow NAME-00001-of-00003.gguf", Reader::kModel},
  };
}

std::string FileName(const std::string& name) {
  std::string file;
  for (char ch : name) file += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return file + ".gguf";
}

TEST(GgufCorrupt, BaseIsValidAndItsLayoutMatchesTheWriter) {
  const CorruptionBase& b = Base();
  auto file = ParseGguf(b.bytes);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->data_offset, b.data_offset);
  ASSERT_EQ(file->tensors.size(), b.tensors.size());
  ASSERT_EQ(file->metadata.entries().size(), b.kvs.size());
  for (const auto& kv : b.kvs) {
    uint64_t key_len;
    std::memcpy(&key_len, b.bytes.data() + kv.start, 8);
    EXPECT_EQ(key_len, kv.key.size());
    uint32_t type;
    std::memcpy(&type, b.bytes.data() + kv.type_at, 4);
    EXPECT_EQ(type, static_cast<uint32_t>(file->metadata.Find(kv.key)->type)) << kv.key;
  }
  for (size_t k = 0; k < b.tensors.size(); ++k) {
    uint64_t offset;
    std::memcpy(&offset, b.bytes.data() + b.tensors[k].offset_at, 8);
    EXPECT_EQ(offset, file->tensors[k].offset) << b.tensors[k].name;
  }
  EXPECT_EQ(b.bytes.size(), b.data_offset + file->tensors.back().offset + file->tensors.back().nbytes)
      << "the last tensor ends the file, so every truncation cuts into something";
}

Status Read(const Corruption& c, const Bytes& bytes, const testing::ScratchDir& dir) {
  if (c.reader == Reader::kParse) return ParseGguf(bytes).status();
  auto file = ParseGguf(bytes);
  if (!file.ok()) {
    return Status::Error("the parser refused a file meant for the model loader: {}", file.status().message());
  }
  std::string path = dir.File(FileName(c.name));
  testing::WriteBytes(path, bytes);
  return GgufModel::Open(path).status();
}

TEST(GgufCorrupt, EveryCorruptionFailsWithItsMessage) {
  std::vector<Corruption> cases = Corruptions();
  EXPECT_GE(cases.size(), 30u);
  std::set<std::string> names;
  testing::ScratchDir dir;
  for (const Corruption& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(names.insert(FileName(c.name)).second) << "two cases share a file name";
    Bytes bytes = c.make();
    EXPECT_NE(bytes, Base().bytes);
    Status st = Read(c, bytes, dir);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find(c.expected), std::string::npos)
        << "expected: " << c.expected << "\n     got: " << st.message();
  }
}

// Boundaries that must stay accepted, next to the corruptions just past them.
TEST(GgufCorrupt, LimitsThemselvesAreAccepted) {
  const std::vector<std::pair<std::string, std::function<Bytes()>>> cases = {
      {"nesting of exactly 8", Rebuilt([](GgufWriter& w) { w.metadata().Set("test.nested", NestedArray(8)); })},
      {"tensor name of 63 bytes", TensorRenamed("output_norm.weight", std::string(63, 'x'))},
      {"four dimensions", Rebuilt([](GgufWriter& w) { w.AddTensor("four", {32, 1, 2, 1}, GgmlType::F32); })},
      {"version 2", Patched<uint32_t>(4, 2)},
      {"header only, unpadded",
       [] {
         Bytes head = GgufWriter().EncodeHead();
         head.resize(24);
         return head;
       }},
  };
  for (const auto& [name, make] : cases) {
    auto file = ParseGguf(make());
    EXPECT_TRUE(file.ok()) << name << ": " << file.status().message();
  }
}

// An accepted file's tensors lie inside it, aligned, under distinct names.
void ExpectConsistent(const GgufFile& file, uint64_t size) {
  std::set<std::string> names;
  for (const auto& t : file.tensors) {
    EXPECT_LE(file.data_offset + t.offset + t.nbytes, size) << t.name;
    EXPECT_EQ(t.offset % file.alignment, 0u) << t.name;
    EXPECT_TRUE(names.insert(t.name).second) << t.name;
  }
}

TEST(GgufCorrupt, EveryTruncationIsAnError) {
  const Bytes& valid = Base().bytes;
  for (uint64_t size = 0; size < valid.size(); ++size) {
    auto file = ParseGguf(std::span(valid.data(), size));
    EXPECT_FALSE(file.ok()) << "prefix of " << size << " bytes parsed";
  }
}

TEST(GgufCorrupt, RandomBitFlipsGiveAResult) {
  const Bytes& valid = Base().bytes;
  std::mt19937_64 rng(20250611);
  // flips in the head, where they change structure; flipped tensor data is still valid
  std::uniform_int_distribution<uint64_t> bit(0, Base().data_offset * 8 - 1);
  int accepted = 0;
  int refused = 0;
  for (int k = 0; k < 2000; ++k) {
    Bytes bytes = valid;
    uint64_t b = bit(rng);
    bytes[b / 8] ^= static_cast<uint8_t>(1u << (b % 8));
    auto file = ParseGguf(bytes);
    if (file.ok()) {
      ++accepted;
      ExpectConsistent(*file, bytes.size());
    } else {
      ++refused;
      EXPECT_FALSE(file.status().message().empty());
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(accepted, 0);
}

// Error messages name the key, but naming it must not cost per element: a 1 MiB key on
// a million-element array once meant formatting a terabyte of field names.
TEST(GgufCorrupt, LongKeyOnLargeArrayParsesInLinearTime) {
  GgufWriter writer;
  GgufArray array;
  array.elem_type = GgufValueType::UINT8;
  array.uints.assign(1 << 20, 1);
  writer.metadata().Set(std::string(1 << 20, 'k'), GgufValue::Array(std::move(array)));
  Bytes bytes = testing::WriteToMemory(writer);
  auto start = std::chrono::steady_clock::now();
  auto file = ParseGguf(bytes);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_LT(seconds, 10.0);
}

// The corrupted files on disk (in TANDEM_WRITE_CORPUS=DIR when set: fuzzer seeds) are
// rejected by GgufModel::Open too, the valid one accepted.
TEST(GgufCorrupt, CorpusFilesOnDiskAreRejectedByOpen) {
  const char* env = std::getenv("TANDEM_WRITE_CORPUS");
  std::string dir = env != nullptr ? std::string(env)
                                   : (std::filesystem::temp_directory_path() / "tandem_gguf_corpus").string();
  std::filesystem::create_directories(dir);
  testing::WriteBytes(dir + "/valid.gguf", Base().bytes);
  EXPECT_TRUE(GgufModel::Open(dir + "/valid.gguf").ok());
  for (const Corruption& c : Corruptions()) {
    std::string path = dir + "/" + FileName(c.name);
    testing::WriteBytes(path, c.make());
    auto opened = GgufModel::Open(path);
    ASSERT_FALSE(opened.ok()) << c.name;
    EXPECT_NE(opened.status().message().find(path), std::string::npos) << opened.status().message();
  }
  if (env == nullptr) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem
