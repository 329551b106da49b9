// The rest of an attention block's input in one kernel: each q and k head RMS-normalised
// over its head_dim (qwen3moe's q/k norms), or scaled by its row's given RMS scale and
// weighted (minimax-m2's norm over the whole projection, whose sums of squares were
// all-reduced before; or weighted only, its scale to come), rotated (RoPE NEOX), and each
// token's k and v written to the KV cache. The CUDA twin of RmsNorm per head (or
// RmsNormApply per row), Rope on q and k, then StoreKv (kernels/cpu/rms_norm.h, rope.h,
// engine/kv_cache.h), bit for bit up to the ulp of cos/sin.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cpu/rope.h"

namespace tandem {

struct HeadNormRopeArgs {
  float* q = nullptr;              // device [n_rows, n_head, head_dim], normalised and rotated in place
  float* k = nullptr;              // device [n_rows, n_kv_head, head_dim], the same
  const float* v = nullptr;        // device [n_rows, n_kv_head, head_dim]
  const float* q_norm = nullptr;   // device [head_dim] (whole: [n_head * head_dim]) or null: no norm
  const float* k_norm = nullptr;   // device [head_dim] (whole: [n_kv_head * head_dim]) or null
  float eps = 0;
  bool whole = false;              // one norm over each row's whole projection (the weights' layout above)
  const float* sums = nullptr;     // whole: device [2, n_rows] q's then k's sums of squares; null: weights only
  int64_t q_total = 0, k_total = 0;  // whole: values each q / k norm spans (every rank's)
  int64_t n_rows = 0, n_head = 0, n_kv_head = 0, head_dim = 0;  // head_dim <= 256
  RopeParams rope;
  const int32_t* seq = nullptr;    // device [n_rows]: row t's sequence (cache slot)
  const int32_t* pos = nullptr;    // device [n_rows]: row t's position
  void* k_cache = nullptr;         // device, one layer's [n_seq, n_ctx, n_kv_head * head_dim]
  void* v_cache = nullptr;         // same
  int64_t seq_stride = 0;          // elements between two sequences' caches (n_ctx * n_kv_head * head_dim)
  bool f16 = true;                 // cache storage: f16 (rounded to nearest even) or f32
};

cudaError_t HeadNormRopeStore(const HeadNormRopeArgs& args, cudaStream_t stream);

}  // namespace tandem
