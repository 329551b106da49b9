// Quantized matrix-vector and matrix-matrix products over weights used in place
// (never dequantized whole). A weight matrix is `rows` rows of `cols` elements of `type`,
// each row RowBytes(type, cols) bytes; cols is a multiple of the type's block size.
// Rows are split over the pool's threads (pool may be nullptr: single-threaded).
#pragma once

#include <cstdint>

#include "common/thread_pool.h"
#include "model/ggml_type.h"

namespace tandem {

// w: [rows, cols] of type, x: [cols] f32, y: [rows] f32; y[r] = DotRow(w[r], x).
void MatVec(GgmlType type, const void* w, int64_t rows, int64_t cols, const float* x, float* y,
            ThreadPool* pool);

// Batched prompt: x: [n_tokens, cols] f32, y: [n_tokens, rows] f32; y[t][r] = DotRow(w[r], x[t]).
// Each thread takes a range of rows and runs every token against a row while it is hot,
// so the weights are read from memory once per batch. Row r starts r * row_stride bytes
// after w (0: rows are contiguous, RowBytes(type, cols) apart).
void MatMul(GgmlType type, const void* w, int64_t rows, int64_t cols, const float* x, int64_t n_tokens,
            float* y, ThreadPool* pool, uint64_t row_stride = 0);

}  // namespace tandem
