// Causal GQA attention against the device KV cache: the CUDA twin of
// kernels/cpu/attention.h (AttentionPrefill; decode is its one-token case).
//
// Flash-decoding: the context of each (token, KV head) is cut into `splits` chunks run by
// separate blocks; a block reads each K/V row of its chunk once for all the query heads
// of the GQA group, keeps an online softmax (running max, sum, weighted V) and writes a
// partial; a second kernel merges the partials by their log-sum-exp. Rows (a prompt's
// tokens, or one token of each sequence in a batched decode step) run as one launch pair
// per run of rows that fits the scratch buffer.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem {

struct AttentionArgs {
  const float* q = nullptr;      // device [n_rows, n_head, head_dim]
  int64_t n_rows = 0;
  int64_t n_head = 0;            // a multiple of n_kv_head
  int64_t n_kv_head = 0;
  int64_t head_dim = 0;          // <= kAttentionMaxHeadDim
  // Row t is a token of sequence seq[t] at position pos[t] and sees that sequence's
  // positions [0, pos[t]]. Read when the kernels run (a recorded step replays with the
  // values uploaded for it).
  const int32_t* seq = nullptr;  // device [n_rows]
  const int32_t* pos = nullptr;  // device [n_rows]
  // > every pos[t]: the context is split as if it held ctx_bound positions (each row's
  // chunks follow its own length), so a recording serves every step up to it.
  int64_t ctx_bound = 0;
  void* k = nullptr;             // device, one layer's [n_seq, n_ctx, n_kv_head, head_dim] of f16 or f32
                                 // (AttentionFromScores writes each row's new key)
  const void* v = nullptr;       // same
  int64_t seq_stride = 0;        // elements between two sequences' caches
  bool f16 = true;
  float* out = nullptr;          // device [n_rows, n_head, head_dim]
  float* scratch = nullptr;      // device, scratch_floats f32 for the partials
  int64_t scratch_floats = 0;

  // The two halves (below) only:
  float* scores = nullptr;       // device [n_rows, n_head, score_stride]: q . k, not scaled
  int64_t score_stride = 0;      // > every pos[t] (the cache's n_ctx)
  const float* k_new = nullptr;  // device [n_rows, n_kv_head, head_dim]: each row's key before its scale
  const float* sums = nullptr;   // device [2, n_rows]: the sums of squares of each row's q, then its k
  int64_t q_total = 0;           // values a q norm spans (every rank's)
  int64_t k_total = 0;           // values a k norm spans
  float eps = 0;
};

inline constexpr int64_t kAttentionMaxHeadDim = 256;
// Scratch that lets one launch hold this many rows at the longest split.
// 256 splits of >= 32 positions: a 32K context of 4 KV heads runs as 1024 blocks (32
// splits left the GPU mostly idle: 2% of its bandwidth at 32K on an H200).
inline constexpr int64_t kAttentionMaxSplits = 256;
inline int64_t AttentionScratchFloats(int64_t n_head, int64_t head_dim, int64_t rows_per_launch) {
  return rows_per_launch * n_head * kAttentionMaxSplits * (head_dim + 2);
}

// cudaErrorInvalidValue for shapes it cannot run (head_dim too large, GQA group too large
// for shared memory, scratch too small for one row, no places).
cudaError_t AttentionCausal(const AttentionArgs& args, cudaStream_t stream);

// AttentionCausal of a decode step (one row per sequence) in two halves around the RMS
// scales of q and k (minimax-m2's whole-projection norm, all-reduced meanwhile): the CUDA
// twin of kernels/cpu/attention.h's AttentionScores and AttentionFromScores.
// AttentionScores: scores of row t against its sequence's positions [0, pos[t]), unscaled.
cudaError_t AttentionScores(const AttentionArgs& args, cudaStream_t stream);
// Then row t's key k_new[t] times its scale 1 / sqrt(sums[n_rows + t] / k_total + eps) is
// stored at pos[t], q's score against it joins the others, and out = softmax(scores *
// q scale / sqrt(head_dim)) V, split and merged like AttentionCausal. q as given to
// AttentionScores (scaled by nothing).
cudaError_t AttentionFromScores(const AttentionArgs& args, cudaStream_t stream);

}  // namespace tandem
