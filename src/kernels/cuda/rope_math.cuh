// The NEOX rotation of one pair shared by the RoPE kernels (rope.cu, head_norm_rope.cu):
// YaRN constants computed on the host exactly as the CPU does, and each pair's angle
// replayed with the CPU's f32 recurrence, so angles agree bit for bit with kernels/cpu/rope
// and only cos/sin may differ by an ulp.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cpu/rope.h"

namespace tandem::cuda_detail {

struct RopeConsts {
  float theta_scale;  // freq_base^(-2 / n_rot)
  float freq_scale;   // 1 / yarn factor
  float ext_factor;
  float low, high;    // YaRN ramp ends (pair indices)
  float mscale;       // multiplies cos and sin
  int half;           // n_rot / 2
};

// rope.cu
RopeConsts MakeRopeConsts(const RopeParams& params);

// Rotates the pair (head[i], head[i + c.half]) of a head at position pos.
__device__ __forceinline__ void RotatePair(const RopeConsts& c, float* head, int i, int64_t pos) {
  float theta_extrap = static_cast<float>(pos);
  for (int k = 0; k < i; ++k) theta_extrap = __fmul_rn(theta_extrap, c.theta_scale);
  float theta = __fmul_rn(c.freq_scale, theta_extrap);
  if (c.ext_factor != 0.0f) {
    const float y = (static_cast<float>(i) - c.low) / fmaxf(0.001f, c.high - c.low);
    const float ramp = 1.0f - fminf(1.0f, fmaxf(0.0f, y));
    const float mix = __fmul_rn(ramp, c.ext_factor);
    theta = __fadd_rn(__fmul_rn(theta, 1.0f - mix), __fmul_rn(theta_extrap, mix));
  }
  const float cs = __fmul_rn(cosf(theta), c.mscale);
  const float sn = __fmul_rn(sinf(theta), c.mscale);
  const float a = head[i], b = head[i + c.half];
  head[i] = __fsub_rn(__fmul_rn(a, cs), __fmul_rn(b, sn));
  head[i + c.half] = __fadd_rn(__fmul_rn(a, sn), __fmul_rn(b, cs));
}

}  // namespace tandem::cuda_detail
