// Causal GQA attention against the device KV cache: the CUDA twin of
// kernels/cpu/attention.h (AttentionPrefill; decode is its one-token case).
//
// Flash-decoding: the context of each (token, KV head) is cut into `splits` chunks run by
// separate blocks; a block reads each K/V row of its chunk once for all the query heads
// of the GQA group, keeps an online softmax (running max, sum, weighted V) and writes a
// partial; a second kernel merges the partials by their log-sum-exp. Prompts run as one
// launch pair per run of tokens that fits the scratch buffer.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem {

struct AttentionArgs {
  const float* q = nullptr;  // device [n_tokens, n_head, head_dim]
  int64_t n_tokens = 0;
  int64_t n_head = 0;        // a multiple of n_kv_head
  int64_t n_kv_head = 0;
  int64_t head_dim = 0;      // <= kAttentionMaxHeadDim
  int64_t pos0 = 0;          // token t is at position pos0 + t and sees [0, pos0 + t]
  const void* k = nullptr;   // device, one layer's [n_ctx, n_kv_head, head_dim] of f16 or f32
  const void* v = nullptr;   // same
  bool f16 = true;
  float* out = nullptr;      // device [n_tokens, n_head, head_dim]
  float* scratch = nullptr;  // device, scratch_floats f32 for the partials
  int64_t scratch_floats = 0;
  // A step recorded once in a CUDA graph and replayed at later positions: one token
  // (n_tokens 1) whose position is read from device_pos (device int64) when the kernels
  // run; pos0 is ignored, and the context is split as if it held ctx_bound positions (the
  // chunks themselves follow the actual length).
  const int64_t* device_pos = nullptr;
  int64_t ctx_bound = 0;
};

inline constexpr int64_t kAttentionMaxHeadDim = 256;
// Scratch that lets one launch hold this many tokens at the longest split.
// 256 splits of >= 32 positions: a 32K context of 4 KV heads runs as 1024 blocks (32
// splits left the GPU mostly idle: 2% of its bandwidth at 32K on an H200).
inline constexpr int64_t kAttentionMaxSplits = 256;
inline int64_t AttentionScratchFloats(int64_t n_head, int64_t head_dim, int64_t tokens_per_launch) {
  return tokens_per_launch * n_head * kAttentionMaxSplits * (head_dim + 2);
}

// cudaErrorInvalidValue for shapes it cannot run (head_dim too large, GQA group too large
// for shared memory, scratch too small for one token).
cudaError_t AttentionCausal(const AttentionArgs& args, cudaStream_t stream);

}  // namespace tandem
