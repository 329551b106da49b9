// Synthetic model options shared by the tests: the real shape of an architecture, or a
// small one (2 layers, 8 experts top-2, n_embd 256, 4 q / 2 kv heads of 64) that writes
// and runs in well under a second.
#pragma once

#include "model/synth/synth_model.h"

namespace tandem::testing {

inline SynthOptions RealOptions(Arch arch, Recipe recipe) {
  SynthOptions o;
  o.shape = RealShape(arch);
  o.recipe = recipe;
  o.vocab_path = TANDEM_SOURCE_DIR "/tests/data/vocab-qwen2.gguf";
  return o;
}

inline SynthOptions SmallOptions(Arch arch, Recipe recipe) {
  SynthOptions o = RealOptions(arch, recipe);
  o.shape.n_layer = 2;
  o.shape.n_expert = 8;
  o.shape.n_expert_used = 2;
  o.shape.n_embd = 256;
  o.shape.n_head = 4;
  o.shape.n_head_kv = 2;
  o.shape.head_dim = 64;
  o.shape.n_rot = arch == Arch::kQwen3Moe ? 64 : 32;
  o.shape.n_ff_exp = 256;
  return o;
}

}  // namespace tandem::testing
