#include "kernels/cpu/matvec.h"

#include "kernels/cpu/quant.h"

namespace tandem {

void MatMul(GgmlType type, const void* w, int64_t rows, int64_t cols, const float* x, int64_t n_tokens,
            float* y, ThreadPool* pool, uint64_t row_stride) {
  const auto* base = static_cast<const uint8_t*>(w);
  const uint64_t row_bytes = row_stride != 0 ? row_stride : RowBytes(type, cols);
  auto rows_range = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) DotRowTokens(type, base + r * row_bytes, x, cols, n_tokens, y + r, rows);
  };
  if (pool) {
    pool->ParallelFor(rows, rows_range);
  } else {
    rows_range(0, rows);
  }
}

void MatVec(GgmlType type, const void* w, int64_t rows, int64_t cols, const float* x, float* y,
            ThreadPool* pool) {
  MatMul(type, w, rows, cols, x, 1, y, pool);
}

}  // namespace tandem
