#include "bench/decode/synthetic_spec.h"

#include <charconv>
#include <filesystem>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace tandem::bench {
namespace {

Expected<uint32_t> Count(std::string_view value, std::string_view key) {
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n == 0) {
    return Status::Error("--synthetic: {}={} is not a positive count", key, value);
  }
  return n;
}

}  // namespace

Expected<SynthOptions> ParseSyntheticSpec(const std::string& spec, const std::string& vocab_path) {
  std::vector<std::string> fields;
  std::istringstream in(spec);
  for (std::string field; std::getline(in, field, ':');) fields.push_back(field);
  if (fields.empty() || fields[0].empty()) {
    return Status::Error("--synthetic needs ARCH[:RECIPE][:layers=N][:experts=N], e.g. qwen3moe-30b:q4_k_m");
  }
  std::string arch_name = fields[0];
  if (arch_name == "qwen3moe-30b") arch_name = "qwen3moe";
  TANDEM_ASSIGN_OR_RETURN(Arch arch, ParseArch(arch_name));
  SynthOptions o;
  o.shape = RealShape(arch);
  o.recipe = arch == Arch::kMiniMaxM2 ? Recipe::kQ3_K_XL : Recipe::kQ4_K_M;
  o.vocab_path = vocab_path;
  for (size_t i = 1; i < fields.size(); ++i) {
    const std::string& f = fields[i];
    const size_t eq = f.find('=');
    if (eq == std::string::npos) {
      TANDEM_ASSIGN_OR_RETURN(o.recipe, ParseRecipe(f));
      continue;
    }
    const std::string key = f.substr(0, eq), value = f.substr(eq + 1);
    if (key == "layers") {
      TANDEM_ASSIGN_OR_RETURN(o.shape.n_layer, Count(value, key));
    } else if (key == "experts") {
      TANDEM_ASSIGN_OR_RETURN(o.shape.n_expert, Count(value, key));
    } else {
      return Status::Error("--synthetic: unknown field '{}' (layers=N, experts=N)", key);
    }
  }
  return o;
}

Expected<std::string> SyntheticModelFile(const std::string& spec, const std::string& dir,
                                         const std::string& vocab_path) {
  TANDEM_ASSIGN_OR_RETURN(SynthOptions o, ParseSyntheticSpec(spec, vocab_path));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Error("cannot create {}: {}", dir, ec.message());
  const std::string path = (std::filesystem::path(dir) / fmt::format("{}-{}-L{}-E{}.gguf", ArchName(o.shape.arch),
                                                                     RecipeName(o.recipe), o.shape.n_layer,
                                                                     o.shape.n_expert))
                               .string();
  if (std::filesystem::exists(path)) return path;
  TANDEM_ASSIGN_OR_RETURN(SynthModel model, SynthModel::Build(o));
  TANDEM_TRY(model.WriteFile(path, /*show_progress=*/true));
  return path;
}

}  // namespace tandem::bench
