// `--synthetic ARCH[:RECIPE][:layers=N][:experts=N]`: a synthetic model with a real
// architecture's dimensions (qwen3moe = Qwen3-30B-A3B, minimax-m2 = MiniMax-M2), written
// once into a cache folder and reused by later runs.
#pragma once

#include <string>

#include "common/status.h"
#include "model/synth/synth_model.h"

namespace tandem::bench {

// "qwen3moe-30b:q4_k_m:layers=4" -> options (vocabulary from vocab_path).
Expected<SynthOptions> ParseSyntheticSpec(const std::string& spec, const std::string& vocab_path);

// The GGUF of `spec` in `dir` ("qwen3moe-q4_k_m-L4.gguf"), written first when absent.
Expected<std::string> SyntheticModelFile(const std::string& spec, const std::string& dir, const std::string& vocab_path);

}  // namespace tandem::bench
