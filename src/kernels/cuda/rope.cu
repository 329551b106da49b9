// One thread per (token, head, rotated pair). The YaRN constants are computed on the host
// exactly as the CPU does; each thread replays the CPU's f32 angle recurrence up to its
// pair, so angles agree bit for bit and only cos/sin may differ by an ulp.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/rope.h"

namespace tandem {
namespace {

constexpr int kThreads = 256;

struct RopeConsts {
  float theta_scale;  // freq_base^(-2 / n_rot)
  float freq_scale;   // 1 / yarn factor
  float ext_factor;
  float low, high;    // YaRN ramp ends (pair indices)
  float mscale;       // multiplies cos and sin
  int half;           // n_rot / 2
};

float YarnCorrDim(int64_t n_rot, int64_t original_context, float n_turns, float base) {
  return static_cast<float>(n_rot) *
         std::log(static_cast<float>(original_context) / (n_turns * 2.0f * std::numbers::pi_v<float>)) /
         (2.0f * std::log(base));
}

RopeConsts MakeConsts(const RopeParams& p) {
  const RopeParams::Yarn& yarn = p.yarn;
  RopeConsts c{};
  c.half = static_cast<int>(p.n_rot / 2);
  c.freq_scale = 1.0f / yarn.factor;
  c.ext_factor = yarn.ext_factor;
  c.mscale = yarn.attn_factor;
  if (yarn.ext_factor != 0.0f) {
    c.low = std::max(0.0f, std::floor(YarnCorrDim(p.n_rot, yarn.original_context, yarn.beta_fast, p.freq_base)));
    c.high = std::min(static_cast<float>(p.n_rot - 1),
                      std::ceil(YarnCorrDim(p.n_rot, yarn.original_context, yarn.beta_slow, p.freq_base)));
    c.mscale *= 1.0f + 0.1f * std::log(1.0f / c.freq_scale);
  }
  c.theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
  return c;
}

__global__ void __launch_bounds__(kThreads) RopeKernel(RopeConsts c, float* x, int64_t n_pairs, int n_heads,
                                                      int head_dim, int64_t pos0, const int64_t* device_pos) {
  cuda_detail::StartAfterPreviousKernel();
  if (device_pos != nullptr) pos0 = *device_pos;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (idx >= n_pairs) return;
  const int i = static_cast<int>(idx % c.half);
  const int64_t head = idx / c.half;  // token * n_heads + h
  const int64_t t = head / n_heads;
  float theta_extrap = static_cast<float>(pos0 + t);
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
  float* h = x + head * head_dim;
  const float a = h[i], b = h[i + c.half];
  h[i] = __fsub_rn(__fmul_rn(a, cs), __fmul_rn(b, sn));
  h[i + c.half] = __fadd_rn(__fmul_rn(a, sn), __fmul_rn(b, cs));
}

}  // namespace

cudaError_t RopeNeox(const RopeParams& params, float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                     int64_t pos0, cudaStream_t stream, const int64_t* device_pos) {
  if (params.n_rot % 2 != 0 || params.n_rot > head_dim || params.n_rot < 0) return cudaErrorInvalidValue;
  const RopeConsts c = MakeConsts(params);
  const int64_t n_pairs = n_tokens * n_heads * c.half;
  if (n_pairs <= 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((n_pairs + kThreads - 1) / kThreads);
  return cuda_detail::LaunchAfterPrevious(RopeKernel, blocks, kThreads, 0, stream, c, x, n_pairs,
                                          static_cast<int>(n_heads), static_cast<int>(head_dim), pos0, device_pos);
}

}  // namespace tandem
