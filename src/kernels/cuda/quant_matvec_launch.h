// The launcher behind QuantMatMul (quant_matvec.cu): arguments already checked by
// quant_matvec.cc; returns the launch's cudaError_t. Shared by the .cu and the .cc only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "model/ggml_type.h"

namespace tandem::cuda_detail {

struct QuantMatMulArgs {
  GgmlType type;
  const uint8_t* w;      // device, row r at w + r * row_stride
  int64_t rows;
  int64_t cols;          // elements per row, a multiple of the type's block
  uint64_t row_stride;   // bytes, >= RowBytes(type, cols)
  const float* x;        // device [n_tokens, cols]
  int n_tokens;          // 1..8
  float* y;              // device [n_tokens, rows]
};

cudaError_t LaunchQuantMatMul(const QuantMatMulArgs& args, cudaStream_t stream);

}  // namespace tandem::cuda_detail
