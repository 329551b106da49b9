// Device helpers shared by the matrix x vector kernels (quant_matvec.cu, the f32-activation
// one, and quant_matvec_q8.cu, the int8-activation one): weight loads that bypass L1, the
// expert pick of a grid row, where a staging step of a row lies, and the staged row walk.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/quant_matvec_launch.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace tandem::cuda_detail {

// 16 bytes of weights, read once: not kept in L1, which serves the activations.
__device__ __forceinline__ uint4 LoadWeights16(const uint8_t* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// Grid row y's product (ExpertIndex): its weights, input rows and output row; held false
// when its expert is not one of this matrix set's.
struct ExpertPick {
  bool held;
  const uint8_t* w;
  const float* x;
  const float* x_up;  // null unless the activations are SwiGLU(x, x_up)
  float* y;
};

__device__ __forceinline__ ExpertPick PickExpert(const ExpertIndex& ex, const uint8_t* w, const float* x,
                                                 const float* x_up, float* y, int rows, int cols) {
  if (ex.ids == nullptr) return {true, w, x, x_up, y};
  int pair = blockIdx.y;
  if (ex.w_second != nullptr && pair >= ex.n_pairs) {
    pair -= ex.n_pairs;
    w = ex.w_second;
    y = ex.y_second;
  }
  const int e = ex.ids[pair] - ex.expert_begin;
  if (e < 0 || e >= ex.n_expert) return {false, nullptr, nullptr, nullptr, nullptr};
  const int64_t x_at = static_cast<int64_t>(pair / ex.pairs_per_x) * cols;
  return {true, w + static_cast<uint64_t>(e) * ex.expert_stride, x + x_at, x_up != nullptr ? x_up + x_at : nullptr,
          y + static_cast<int64_t>(pair) * rows};
}

// Where step `step` of row `row` lies: its 16-byte-aligned words and the offset of its
// first byte in them.
struct StepSpan {
  const uint8_t* words;  // 16-byte aligned
  int n_words;
  int shift;             // bytes before the step's first byte
};

__device__ __forceinline__ StepSpan SpanOf(const uint8_t* row, uint64_t row_bytes, int step, int step_bytes) {
  const uint64_t begin = static_cast<uint64_t>(step) * step_bytes;
  const uint64_t end = min(begin + step_bytes, row_bytes);
  const uintptr_t first = reinterpret_cast<uintptr_t>(row + begin);
  const uintptr_t aligned = first & ~uintptr_t{15};
  const uintptr_t last = (reinterpret_cast<uintptr_t>(row + end) + 15) & ~uintptr_t{15};
  return {reinterpret_cast<const uint8_t*>(aligned), static_cast<int>((last - aligned) / 16),
          static_cast<int>(first - aligned)};
}

// The row walk both kernels share. A warp takes rows first_row, first_row + total_warps, ...
// (stopping at `rows`) and walks each in `steps` steps of kStepBytes: the step's bytes go to
// the warp's shared buffer s with coalesced 16-byte loads, the next step's loads are
// issued, then dot_step(shift, step, acc) works on the staged bytes (shift: bytes before the
// step's first byte in s). After a row's last step, acc is summed over the warp into
// y[t][row] for t < n_tokens and cleared. prologue() runs once in every thread of the block
// after the first weight loads are issued (waiting for the previous kernel and staging the
// activations there overlaps those loads' latency).
template <int kWords, int kStepBytes, int NT, class Prologue, class DotStep>
__device__ __forceinline__ void WalkStagedRows(const uint8_t* w, int rows, uint64_t row_stride, uint64_t row_bytes,
                                               int steps, int first_row, int total_warps, uint8_t* s, int n_tokens,
                                               float* y, Prologue prologue, DotStep dot_step) {
  const int lane = threadIdx.x & 31;
  int row = first_row;
  uint4 next[kWords];
  auto issue = [&](int r, int st) {
    const StepSpan span = SpanOf(w + static_cast<uint64_t>(r) * row_stride, row_bytes, st, kStepBytes);
#pragma unroll
    for (int k = 0; k < kWords; ++k) {
      const int idx = lane + 32 * k;
      if (idx < span.n_words) next[k] = LoadWeights16(span.words + 16 * idx);
    }
  };
#pragma unroll
  for (int k = 0; k < kWords; ++k) next[k] = make_uint4(0, 0, 0, 0);

  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;

  int step = 0;
  if (row < rows) issue(row, step);
  prologue();
  if (row >= rows) return;
  while (true) {
    const int shift = SpanOf(w + static_cast<uint64_t>(row) * row_stride, row_bytes, step, kStepBytes).shift;
    __syncwarp();  // every lane is done reading the previous step
#pragma unroll
    for (int k = 0; k < kWords; ++k) reinterpret_cast<uint4*>(s)[lane + 32 * k] = next[k];
    __syncwarp();

    const int next_step = step + 1 < steps ? step + 1 : 0;
    const int next_row = step + 1 < steps ? row : row + total_warps;
    if (next_row < rows) issue(next_row, next_step);

    dot_step(shift, step, acc);

    if (step == steps - 1) {
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        const float v = WarpSum(acc[t]);
        if (lane == 0 && t < n_tokens) y[static_cast<int64_t>(t) * rows + row] = v;
        acc[t] = 0.0f;
      }
    }
    step = next_step;
    row = next_row;
    if (row >= rows) break;
  }
}

}  // namespace tandem::cuda_detail
