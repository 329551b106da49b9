// A short string that tells two copies of a model apart from two different models:
// architecture, tensor count and a 64-bit FNV-1a hash of every tensor's name, type,
// shape and size, and of the metadata keys. Workers report it when they join, so a
// cluster never runs ranks of different files.
#pragma once

#include <string>

#include "model/gguf_model.h"

namespace tandem {

std::string ModelFingerprint(const GgufModel& model);  // "qwen3moe/435/1f2e3d4c5b6a7980"

}  // namespace tandem
