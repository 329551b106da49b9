// Tokenizer metadata for a synthetic model: the vocabulary of a vocab-only GGUF, the
// architecture's own special tokens placed as control tokens, padding to the model's
// vocab size, its pre-tokenizer name and its real chat template.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "model/arch.h"
#include "model/gguf_value.h"

namespace tandem {

// Copies tokenizer.* keys from `vocab_path` into `md`, adapted to `arch`, padded with
// unused tokens to `n_vocab` (an error if the vocabulary is larger).
Status WriteSynthVocab(Arch arch, const std::string& vocab_path, uint32_t n_vocab, GgufMetadata& md);

// Number of tokens in the vocab file (the smallest n_vocab a synthetic model can have).
Expected<uint32_t> VocabSize(const std::string& vocab_path);

// The real chat template of `arch` (embedded in the binary at build time).
std::string_view ChatTemplate(Arch arch);

}  // namespace tandem
