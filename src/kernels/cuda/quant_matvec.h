// Quantized matrix x vector (and x up to 8 vectors) on the GPU, reading the GGUF blocks in
// place: y[t][r] = sum_c dequant(w[r])[c] * x[t][c], the CUDA twin of the CPU reference
// MatMul (kernels/cpu/matvec.h). Every weight type of SupportedTypes() is accepted.
//
// How it runs: one warp per row (a warp walks several rows, prefetching the next piece of
// weights while it computes the current one). Each step a warp copies ~2 KB of its row
// into shared memory with coalesced 16-byte loads (whatever the row's alignment), then
// every lane dequantizes 8 elements of each 256-element group in registers and dots them
// against all n_tokens activations, so the weights are read once per batch. f32 math and
// accumulation; a warp-shuffle reduction per row.
//
// Under ActivationRounding::kLikeGgml (activation_mode.h) the quantized types take the
// int8 path instead (quant_matvec_q8.cu): each block rounds x into shared memory once (int8,
// a scale per 32 or 256) and dots it with the raw weight quants 4 at a time (dp4a), the
// integer sums exact; F16 / BF16 weights see x rounded to their type. Its CPU twin is
// RoundActivationsLikeGgml then MatMul (kernels/cpu/activation_rounding.h).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "common/status.h"
#include "kernels/cuda/activation_mode.h"
#include "model/ggml_type.h"

namespace tandem {

inline constexpr int64_t kQuantMatMulMaxTokens = 8;

// w:   device, `rows` rows of `cols` elements of `type`, row r at w + r * row_stride bytes
//      (row_stride 0: contiguous, RowBytes(type, cols)); cols a multiple of the type's block.
// x:   device f32 [n_tokens, cols], 16-byte aligned unless `type` is F32/F16/BF16 with odd cols.
// y:   device f32 [n_tokens, rows].
// n_tokens: 1..kQuantMatMulMaxTokens. Runs asynchronously on `stream`; errors are bad
// arguments or a failed launch (the kernel's own faults surface at the next sync).
Status QuantMatMul(GgmlType type, const void* w, int64_t rows, int64_t cols, uint64_t row_stride, const float* x,
                   int64_t n_tokens, float* y, cudaStream_t stream,
                   ActivationRounding rounding = ActivationRounding::kNone);

// The selected experts' products, ids read on the device (no host round trip): for each
// pair p < n_pairs, y[p] = W_e x[p / pairs_per_x] with W_e = expert ids[p] - expert_begin
// of the n_expert matrices at w (expert e at w + e * expert_stride bytes, each `rows` x
// `cols` with row_stride as above). Pairs whose expert lies outside [0, n_expert) leave
// y[p] unwritten. x: device f32 [n_pairs / pairs_per_x, cols]; y: device f32 [n_pairs, rows].
struct ExpertProducts {
  const int32_t* ids = nullptr;  // device [n_pairs] model expert ids
  int64_t n_pairs = 0;           // 1..32767
  int64_t pairs_per_x = 1;       // e.g. k experts per token share the token's x row
  int64_t expert_begin = 0;
  int64_t n_expert = 0;
  uint64_t expert_stride = 0;    // bytes
  // A second matrix set laid out like w (up beside gate), run in the same launch:
  // y_second[p] = its expert ids[p] times the same x row. Null: none.
  const void* w_second = nullptr;
  float* y_second = nullptr;     // device [n_pairs, rows]
  // Non-null: every x row is SwiGLU(x, x_up) (the down product reading gate and up).
  const float* x_up = nullptr;   // device, shaped like x
};
Status QuantMatMulExperts(GgmlType type, const void* w, int64_t rows, int64_t cols, uint64_t row_stride,
                          const ExpertProducts& experts, const float* x, float* y, cudaStream_t stream,
                          ActivationRounding rounding = ActivationRounding::kNone);

}  // namespace tandem
