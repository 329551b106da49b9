#include "model/synth/recipe.h"

#include <array>

namespace tandem {
namespace {

struct RecipeEntry {
  Recipe recipe;
  std::string_view name;
  uint32_t file_type;  // llama_ftype: ALL_F32 0, MOSTLY_F16 1, Q8_0 7, Q4_K_M 15, Q3_K_L 13, MXFP4_MOE 38
};

constexpr std::array kRecipes = {
    RecipeEntry{Recipe::kF32, "f32", 0},          RecipeEntry{Recipe::kF16, "f16", 1},
    RecipeEntry{Recipe::kQ8_0, "q8_0", 7},        RecipeEntry{Recipe::kQ4_K_M, "q4_k_m", 15},
    RecipeEntry{Recipe::kQ3_K_XL, "q3_k_xl", 13}, RecipeEntry{Recipe::kMxfp4, "mxfp4", 38},
};

// llama.cpp's rule for the layers where Q4_K_M spends more bits (attn_v, ffn_down).
bool UseMoreBits(uint32_t layer, uint32_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

GgmlType Q4KM(TensorRole role, uint32_t layer, uint32_t n_layer) {
  switch (role) {
    case TensorRole::kOutput:
      return GgmlType::Q6_K;
    case TensorRole::kAttnV:
    case TensorRole::kDownExps:
      return UseMoreBits(layer, n_layer) ? GgmlType::Q6_K : GgmlType::Q4_K;
    default:
      return GgmlType::Q4_K;
  }
}

// Chosen so the full 62-layer MiniMax-M2 reads 4.58 GiB per token like Unsloth's
// UD-Q3_K_XL: experts and the large attention projections Q3_K, the small K/V
// projections more bits, head Q6_K.
GgmlType Q3KXL(TensorRole role) {
  switch (role) {
    case TensorRole::kOutput:
      return GgmlType::Q6_K;
    case TensorRole::kEmbedding:
    case TensorRole::kAttnK:
      return GgmlType::Q4_K;
    case TensorRole::kAttnV:
      return GgmlType::Q5_K;
    default:
      return GgmlType::Q3_K;
  }
}

}  // namespace

Expected<Recipe> ParseRecipe(std::string_view name) {
  for (const auto& e : kRecipes) {
    if (e.name == name) return e.recipe;
  }
  return Status::Error("unknown recipe '{}' (use one of: {})", name, RecipeNames());
}

std::string_view RecipeName(Recipe recipe) {
  for (const auto& e : kRecipes) {
    if (e.recipe == recipe) return e.name;
  }
  return "?";
}

std::string_view RecipeNames() { return "f32, f16, q8_0, q4_k_m, q3_k_xl, mxfp4"; }

GgmlType RecipeType(Recipe recipe, TensorRole role, uint32_t layer, uint32_t n_layer) {
  // 1-D weights and the router stay F32 in every recipe, as llama.cpp keeps them.
  if (role == TensorRole::kNorm || role == TensorRole::kRouter) return GgmlType::F32;
  bool expert = role == TensorRole::kGateExps || role == TensorRole::kUpExps || role == TensorRole::kDownExps;
  switch (recipe) {
    case Recipe::kF32:
      return GgmlType::F32;
    case Recipe::kF16:
      return GgmlType::F16;
    case Recipe::kQ8_0:
      return GgmlType::Q8_0;
    case Recipe::kQ4_K_M:
      return Q4KM(role, layer, n_layer);
    case Recipe::kQ3_K_XL:
      return Q3KXL(role);
    case Recipe::kMxfp4:
      return expert ? GgmlType::MXFP4 : GgmlType::Q8_0;
  }
  return GgmlType::F32;
}

uint32_t RecipeFileType(Recipe recipe) {
  for (const auto& e : kRecipes) {
    if (e.recipe == recipe) return e.file_type;
  }
  return 0;
}

}  // namespace tandem
