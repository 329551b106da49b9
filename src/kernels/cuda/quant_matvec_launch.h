// The launcher behind QuantMatMul (quant_matvec.cu): arguments already checked by
// quant_matvec.cc; returns the launch's cudaError_t. Shared by the .cu and the .cc only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/activation_mode.h"
#include "model/ggml_type.h"

namespace tandem::cuda_detail {

// Expert-indexed products (QuantMatMulExperts): grid row y = pair p multiplies expert
// ids[p] - expert_begin (skipped when outside [0, n_expert)) by x row p / pairs_per_x
// into y row p. ids null: one plain product. With a second matrix set (gate and up in one
// launch), grid rows n_pairs + p do the same with w_second into y_second.
struct ExpertIndex {
  const int32_t* ids = nullptr;  // device [n_pairs]
  int n_pairs = 1;
  int pairs_per_x = 1;
  int expert_begin = 0;
  int n_expert = 0;
  uint64_t expert_stride = 0;    // bytes between experts' matrices (both sets)
  const uint8_t* w_second = nullptr;  // device, or null
  float* y_second = nullptr;          // device [n_pairs, rows]
  int products() const { return w_second != nullptr ? 2 * n_pairs : n_pairs; }
};

struct QuantMatMulArgs {
  GgmlType type;
  const uint8_t* w;      // device, row r at w + r * row_stride
  int64_t rows;
  int64_t cols;          // elements per row, a multiple of the type's block
  uint64_t row_stride;   // bytes, >= RowBytes(type, cols)
  const float* x;        // device [n_tokens, cols]
  int n_tokens;          // 1..8
  float* y;              // device [n_tokens, rows]
  ExpertIndex experts{};  // ids null: plain product
  ActivationRounding rounding = ActivationRounding::kNone;
  // Non-null: the activations are SwiGLU(x, x_up) (x_up shaped like x), applied as they are
  // read (the down product after gate and up).
  const float* x_up = nullptr;
};

cudaError_t LaunchQuantMatMul(const QuantMatMulArgs& args, cudaStream_t stream);

// Blocks along x for each of n_pairs products (grid rows): the `wanted` a product's rows
// ask for, but all products together in one wave of the device's `resident` blocks (a
// warp then walks more rows, the next row's loads overlapping this one's math, instead of
// a second wave paying the launch and the activation staging again).
inline int BlocksPerProduct(int wanted, int resident, int n_pairs) {
  const int per_product = resident / (n_pairs > 0 ? n_pairs : 1);
  return wanted < per_product ? (wanted > 0 ? wanted : 1) : (per_product > 0 ? per_product : 1);
}

// The int8-activation kernel (quant_matvec_q8.cu) for quantized types under
// ActivationRounding::kLikeGgml: x rounded into each block's shared memory, then dp4a.
// Shared memory it needs for n_tokens rows of cols activations (bytes), and its limit.
inline constexpr int kQ8SharedLimit = 64 * 1024;
inline int64_t Q8SharedBytes(int64_t cols, int64_t n_tokens) { return n_tokens * (cols + cols / 32 * 4 + cols / 16 * 2); }
cudaError_t LaunchQuantMatMulQ8(const QuantMatMulArgs& args, cudaStream_t stream);

}  // namespace tandem::cuda_detail
