// Helpers shared by the GGUF tests: deterministic tensor bytes, a scratch directory,
// little-endian field patching and deep comparison of metadata values.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "model/gguf_value.h"
#include "model/gguf_writer.h"

namespace tandem::testing {

// Byte k of tensor `index`: distinct per tensor and position, so misplaced data shows.
inline uint8_t PatternByte(size_t index, uint64_t k) { return static_cast<uint8_t>(index * 53 + k * 7 + k / 251); }

inline Status FillPattern(size_t index, std::span<uint8_t> dst) {
  for (uint64_t k = 0; k < dst.size(); ++k) dst[k] = PatternByte(index, k);
  return Status::Ok();
}

// True when `data` holds tensor `index`'s pattern over `nbytes` bytes.
inline bool HoldsPattern(size_t index, const uint8_t* data, uint64_t nbytes) {
  for (uint64_t k = 0; k < nbytes; ++k) {
    if (data[k] != PatternByte(index, k)) return false;
  }
  return true;
}

inline std::vector<uint8_t> WriteToMemory(const GgufWriter& writer) {
  auto bytes = writer.WriteMemory(FillPattern);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  return bytes.ok() ? std::move(bytes).value() : std::vector<uint8_t>{};
}

// Overwrites the little-endian T at byte `at`.
template <typename T>
void Patch(std::vector<uint8_t>& bytes, uint64_t at, T value) {
  ASSERT_LE(at + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

// A fresh directory under the test temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::path(::testing::TempDir()) /
            (std::string("tandem-") + test->test_suite_name() + "-" + test->name() + "-" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void WriteBytes(const std::string& path, std::span<const uint8_t> bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size()) << path;
  ASSERT_EQ(std::fclose(f), 0) << path;
}

// Same type and same contents, arrays compared element by element to any depth.
inline bool SameArray(const GgufArray& a, const GgufArray& b) {
  if (a.elem_type != b.elem_type || a.uints != b.uints || a.ints != b.ints || a.floats != b.floats ||
      a.strings != b.strings || a.arrays.size() != b.arrays.size()) {
    return false;
  }
  for (size_t k = 0; k < a.arrays.size(); ++k) {
    if (!SameArray(a.arrays[k], b.arrays[k])) return false;
  }
  return true;
}

inline bool SameValue(const GgufValue& a, const GgufValue& b) {
  return a.type == b.type && a.u == b.u && a.i == b.i && a.f == b.f && a.s == b.s && SameArray(a.array, b.array);
}

}  // namespace tandem::testing
