// CPU reference for the quantized weight formats: dequantize, dot product, quantize.
// Every function takes `n` elements, a multiple of the type's block size, and one of
// the 16 SupportedTypes(); other types are a programming error (the loader rejects
// them first).
#pragma once

#include <cstdint>

#include "model/ggml_type.h"

namespace tandem {

// blocks of `type` at `src` -> n floats at `dst`; bit-identical to ggml's dequantize.
void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n);

// sum_i dequant(row)[i] * x[i], accumulated in f32 per block, never materialising the row.
float DotRow(GgmlType type, const void* row, const float* x, int64_t n);
// DotRow of one row with each of n_tokens vectors: y[t * y_stride] = DotRow(type, row,
// x + t * n, n), bit for bit, the row decoded once for all of them (a prompt batch).
void DotRowTokens(GgmlType type, const void* row, const float* x, int64_t n, int64_t n_tokens, float* y,
                  int64_t y_stride);

// n floats -> blocks of `type` at `dst` (RowBytes(type, n) bytes). A simple, correct
// quantizer (round to nearest on min/max or absmax scales), not an imatrix-optimal one:
// it is what `tandem synth` and the tests use to make valid blocks.
void QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n);

}  // namespace tandem
