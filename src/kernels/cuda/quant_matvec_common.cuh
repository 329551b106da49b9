// Device helpers shared by the matrix x vector kernels (quant_matvec.cu, the f32-activation
// one, and quant_matvec_q8.cu, the int8-activation one): weight loads that bypass L1, the
// expert pick of a grid row, and where a staging step of a row lies.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/quant_matvec_launch.h"

namespace tandem::cuda_detail {

// 16 bytes of weights, read once: not kept in L1, which serves the activations.
__device__ __forceinline__ uint4 LoadWeights16(const uint8_t* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// Where grid row y's expert product lies (ExpertIndex): offsets of its weights, input row
// and output row; held false when its expert is not one of this matrix set's.
struct ExpertPick {
  bool held;
  uint64_t w_offset;  // bytes
  int64_t x_offset;   // floats
  int64_t y_offset;   // floats
};

__device__ __forceinline__ ExpertPick PickExpert(const ExpertIndex& ex, int rows, int cols) {
  if (ex.ids == nullptr) return {true, 0, 0, 0};
  const int pair = blockIdx.y;
  const int e = ex.ids[pair] - ex.expert_begin;
  if (e < 0 || e >= ex.n_expert) return {false, 0, 0, 0};
  return {true, static_cast<uint64_t>(e) * ex.expert_stride, static_cast<int64_t>(pair / ex.pairs_per_x) * cols,
          static_cast<int64_t>(pair) * rows};
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

}  // namespace tandem::cuda_detail
