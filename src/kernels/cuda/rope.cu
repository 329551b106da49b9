// One thread per (token, head, rotated pair), each rotating its pair with rope_math.cuh's
// RotatePair; the YaRN constants are made here (MakeRopeConsts).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/cuda/launch_after_previous.cuh"
#include "kernels/cuda/rope.h"
#include "kernels/cuda/rope_math.cuh"

namespace tandem {
namespace {

constexpr int kThreads = 256;

float YarnCorrDim(int64_t n_rot, int64_t original_context, float n_turns, float base) {
  return static_cast<float>(n_rot) *
         std::log(static_cast<float>(original_context) / (n_turns * 2.0f * std::numbers::pi_v<float>)) /
         (2.0f * std::log(base));
}

}  // namespace

namespace cuda_detail {

RopeConsts MakeRopeConsts(const RopeParams& p) {
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

}  // namespace cuda_detail

namespace {

using cuda_detail::RopeConsts;

__global__ void __launch_bounds__(kThreads) RopeKernel(RopeConsts c, float* x, int64_t n_pairs, int n_heads,
                                                      int head_dim, int64_t pos0) {
  cuda_detail::StartAfterPreviousKernel();
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (idx >= n_pairs) return;
  const int i = static_cast<int>(idx % c.half);
  const int64_t head = idx / c.half;  // token * n_heads + h
  const int64_t t = head / n_heads;
  cuda_detail::RotatePair(c, x + head * head_dim, i, pos0 + t);
}

}  // namespace

cudaError_t RopeNeox(const RopeParams& params, float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                     int64_t pos0, cudaStream_t stream) {
  if (params.n_rot % 2 != 0 || params.n_rot > head_dim || params.n_rot < 0) return cudaErrorInvalidValue;
  const RopeConsts c = cuda_detail::MakeRopeConsts(params);
  const int64_t n_pairs = n_tokens * n_heads * c.half;
  if (n_pairs <= 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((n_pairs + kThreads - 1) / kThreads);
  return cuda_detail::LaunchAfterPrevious(RopeKernel, blocks, kThreads, 0, stream, c, x, n_pairs,
                                          static_cast<int>(n_heads), static_cast<int>(head_dim), pos0);
}

}  // namespace tandem
