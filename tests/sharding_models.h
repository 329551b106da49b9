// Small synthetic models for the sharding and cluster tests, written once per test
// process (the file name carries the pid: ctest runs tests in parallel processes) and
// removed when the process ends.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "synth_options.h"

namespace tandem::testing {

// 2 layers, 8 experts top 2, n_embd 256, head_dim 128, 4 KV heads with the real GQA
// ratio (qwen3moe 2:1 here, minimax-m2 6:1), FFN 768 = 3 blocks of 256: on 2 ranks
// heads split 2/2 and FFN 512/256, on 3 ranks 2/1/1 and 256/256/256.
inline SynthOptions ShardingShape(Arch arch, Recipe recipe) {
  SynthOptions o = SmallOptions(arch, recipe);
  o.shape.head_dim = 128;
  o.shape.n_rot = arch == Arch::kQwen3Moe ? 128 : 64;
  o.shape.n_head_kv = 4;
  o.shape.n_head = arch == Arch::kQwen3Moe ? 8 : 24;
  o.shape.n_ff_exp = 768;
  return o;
}

inline std::map<std::pair<Arch, Recipe>, std::string>& WrittenModels() {
  static std::map<std::pair<Arch, Recipe>, std::string> written;
  return written;
}

class RemoveWrittenModels : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const auto& [key, path] : WrittenModels()) std::filesystem::remove(path);
  }
};
inline const auto* const kRemoveWrittenModels = ::testing::AddGlobalTestEnvironment(new RemoveWrittenModels);

// The path of the ShardingShape model of `arch` and `recipe`, written on first use.
inline std::string ModelPath(Arch arch, Recipe recipe) {
  std::string& path = WrittenModels()[{arch, recipe}];
  if (path.empty()) {
    path = (std::filesystem::temp_directory_path() /
            fmt::format("tandem_sharded_{}_{}_{}.gguf", ArchName(arch), RecipeName(recipe), getpid()))
               .string();
    auto m = SynthModel::Build(ShardingShape(arch, recipe));
    EXPECT_TRUE(m.ok()) << m.status().message();
    EXPECT_TRUE(m->WriteFile(path, false).ok());
  }
  return path;
}

}  // namespace tandem::testing
