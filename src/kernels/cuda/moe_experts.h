// One layer's mixture-of-experts FFN on the GPU for up to kMoeMaxTokens tokens, the
// routing (ids, weights) read from device memory: the CUDA twin of CpuBackend::MoeExperts.
//
// Runs as 3 launches: gate and up products of every (token, slot) pair's expert in one
// (QuantMatMulExperts; two when gate and up differ in type or layout), the down products
// with SwiGLU(gate, up) applied to their activations as they read them, and the weighted
// sum into out. Each pair reads its expert's weights; two tokens that chose one expert
// read it twice (fine at decode; batched prefill is its own issue).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "common/status.h"
#include "kernels/cuda/activation_mode.h"
#include "model/ggml_type.h"

namespace tandem {

inline constexpr int64_t kMoeMaxTokens = 8;

// n_expert matrices of one role, expert e's at data + e * expert_stride bytes.
struct ExpertWeights {
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;  // device
  int64_t rows = 0, cols = 0;
  uint64_t row_stride = 0;        // bytes
  uint64_t expert_stride = 0;     // bytes
};

struct MoeExpertsArgs {
  ExpertWeights gate, up;   // [n_ff, n_embd] each
  ExpertWeights down;       // [n_embd, n_ff]
  int64_t expert_begin = 0; // model id of the matrices' expert 0
  int64_t n_expert = 0;     // experts held; other ids add nothing
  int64_t n_tokens = 0;     // 1..kMoeMaxTokens
  int64_t k = 0;            // experts per token
  const float* x = nullptr;        // device [n_tokens, n_embd]
  const int32_t* ids = nullptr;    // device [n_tokens, k] model expert ids
  const float* weights = nullptr;  // device [n_tokens, k]
  float* out = nullptr;            // device [n_tokens, n_embd]
  // Scratch, device: gate and up [n_tokens * k, n_ff] each, down [n_tokens * k, n_embd].
  float* gate_buf = nullptr;
  float* up_buf = nullptr;
  float* down_buf = nullptr;
  ActivationRounding rounding = ActivationRounding::kNone;  // of the three products (quant_matvec.h)
};

// Scratch floats MoeExpertsForward needs for kMoeMaxTokens tokens of k experts.
inline int64_t MoeScratchFloats(int64_t k, int64_t n_ff, int64_t n_embd) {
  return kMoeMaxTokens * k * (2 * n_ff + n_embd);
}

Status MoeExpertsForward(const MoeExpertsArgs& args, cudaStream_t stream);

}  // namespace tandem
