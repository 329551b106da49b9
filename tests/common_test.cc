#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "common/log.h"
#include "common/mapped_file.h"
#include "common/progress.h"
#include "common/status.h"

namespace tandem {
namespace {

Expected<int> Half(int v) {
  if (v % 2 != 0) return Status::Error("{} is odd", v);
  return v / 2;
}

Expected<int> Quarter(int v) {
  TANDEM_ASSIGN_OR_RETURN(int half, Half(v));
  TANDEM_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int v) {
  TANDEM_TRY(Half(v).status().WithContext("checking"));
  return Status::Ok();
}

TEST(StatusTest, ErrorsCarryContextUpward) {
  EXPECT_EQ(*Quarter(8), 2);
  auto odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "3 is odd");
  EXPECT_EQ(CheckEven(5).message(), "checking: 5 is odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_TRUE(Status::Ok().WithContext("ignored").message().empty());
}

TEST(LogTest, LevelSpecsAreParsedAndBadOnesNamed) {
  EXPECT_TRUE(ConfigureLogs("debug").ok());
  EXPECT_TRUE(ConfigureLogs("info,net=trace,gguf=warn").ok());
  EXPECT_EQ(Log(Subsystem::kNet).level(), spdlog::level::trace);
  EXPECT_EQ(Log(Subsystem::kGguf).level(), spdlog::level::warn);
  EXPECT_EQ(Log(Subsystem::kEngine).level(), spdlog::level::info);
  Status bad_name = ConfigureLogs("nett=debug");
  EXPECT_NE(bad_name.message().find("'nett'"), std::string::npos) << bad_name.message();
  Status bad_level = ConfigureLogs("net=loud");
  EXPECT_NE(bad_level.message().find("'loud'"), std::string::npos) << bad_level.message();
  EXPECT_TRUE(ConfigureLogs("off").ok());
  EXPECT_EQ(Log(Subsystem::kWorker).level(), spdlog::level::off);
  EXPECT_TRUE(ConfigureLogs("info").ok());
}

TEST(ProgressTest, PrintsTotalsThroughputAndFinalLine) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.50 KiB");
  EXPECT_EQ(FormatBytes(3.0 * 1024 * 1024 * 1024), "3.00 GiB");
  FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    Progress p("writing x", 4096, "B", out);
    p.Add(1024);
    p.Add(3072);
  }  // the destructor prints the final line
  std::rewind(out);
  char buf[512] = {};
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, out);
  std::fclose(out);
  std::string text(buf, n);
  EXPECT_NE(text.find("writing x: 100.0%  4.00 KiB / 4.00 KiB"), std::string::npos) << text;
  EXPECT_NE(text.find("GB/s"), std::string::npos) << text;
}

TEST(MappedFileTest, MissingAndEmptyFiles) {
  auto missing = MappedFile::Open("/nonexistent/file.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/file.gguf"), std::string::npos);
  auto dir = MappedFile::Open("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("not a regular file"), std::string::npos);
  std::string path = ::testing::TempDir() + "tandem_empty_file";
  std::fclose(std::fopen(path.c_str(), "wb"));
  auto empty = MappedFile::Open(path);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->bytes().empty());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace tandem
