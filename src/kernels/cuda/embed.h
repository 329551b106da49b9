// Token embedding lookup on the GPU: the CUDA twin of DequantizeRow (kernels/cpu/quant.h)
// applied to the rows a batch of token ids names.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "model/ggml_type.h"

namespace tandem {

// x: device f32 [n_tokens, cols] = dequantized rows ids[0..n_tokens) of `table`.
// table: device, row r at table + r * row_stride bytes, cols elements of `type` (any of
// SupportedTypes(); cols a multiple of its block). ids: device int32 [n_tokens], each
// < the table's rows (not checked on the device: the engine checks ids on the host).
cudaError_t EmbedRows(GgmlType type, const uint8_t* table, uint64_t row_stride, int64_t cols, const int32_t* ids,
                      int64_t n_tokens, float* x, cudaStream_t stream);

}  // namespace tandem
