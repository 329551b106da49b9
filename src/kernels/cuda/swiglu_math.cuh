// SwiGLU as the CPU's SwiGlu (kernels/cpu/swiglu.h) rounds it, for the products that apply
// it to their activations as they read them (the MoE down product).
#pragma once

#include <cuda_runtime.h>

namespace tandem::cuda_detail {

// silu(g) * u = g / (1 + e^-g) * u, each step rounded to nearest.
__device__ __forceinline__ float SwiGlu(float g, float u) { return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u); }

__device__ __forceinline__ float4 SwiGlu4(float4 g, float4 u) {
  return make_float4(SwiGlu(g.x, u.x), SwiGlu(g.y, u.y), SwiGlu(g.z, u.z), SwiGlu(g.w, u.w));
}

}  // namespace tandem::cuda_detail
