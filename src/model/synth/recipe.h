// Quant recipes for synthetic models: which ggml type each tensor gets.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "model/ggml_type.h"

namespace tandem {

enum class Recipe { kF32, kF16, kQ8_0, kQ4_K_M, kQ3_K_XL, kMxfp4 };

// What a tensor is, as far as choosing its type goes.
enum class TensorRole {
  kEmbedding,  // token_embd
  kOutput,     // output (LM head)
  kNorm,       // any 1-D weight: norms, exp_probs_b
  kRouter,     // ffn_gate_inp
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnOut,
  kGateExps,
  kUpExps,
  kDownExps,
};

Expected<Recipe> ParseRecipe(std::string_view name);  // "q4_k_m", ...
std::string_view RecipeName(Recipe recipe);
std::string_view RecipeNames();  // "f32, f16, ..." for help texts

// The type of a tensor of `role` in layer `layer` of `n_layer` (layer ignored for
// tensors outside the blocks).
GgmlType RecipeType(Recipe recipe, TensorRole role, uint32_t layer, uint32_t n_layer);

// general.file_type (llama_ftype) the recipe corresponds to.
uint32_t RecipeFileType(Recipe recipe);

}  // namespace tandem
