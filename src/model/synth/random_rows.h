// Deterministic random rows of quantized weights. Small tensors get every row drawn
// and quantized; large ones copy rows from a pool of pre-quantized random rows, so that
// multi-GB tensors fill at memory speed and still hold valid, varied blocks.
#pragma once

#include <cstdint>
#include <span>

#include "model/ggml_type.h"

namespace tandem {

struct RowSpec {
  GgmlType type;
  int64_t row_len;     // elements per row (multiple of the block size)
  int64_t rows;        // rows in the tensor (all dims but the first)
  float mean;          // of the values before quantization
  float stddev;
  uint64_t seed;
  // Rows whose index modulo `outlier_period` is below `outlier_count` are scaled by
  // `outlier_scale` (attn_k: a few channels of every KV head).
  int64_t outlier_period = 0;
  int64_t outlier_count = 0;
  float outlier_scale = 1.0f;
};

// Fills dst (rows x RowBytes(type, row_len) bytes).
void FillRandomRows(const RowSpec& spec, std::span<uint8_t> dst);

// 64-bit FNV-1a of a string mixed with a seed: per-tensor seeds.
uint64_t MixSeed(uint64_t seed, std::string_view name);

}  // namespace tandem
