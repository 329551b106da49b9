#include "kernels/cpu/rope.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>
#include <vector>

namespace tandem {
namespace {

// The dim pair index at which a wavelength makes n_turns turns over the original context.
float YarnCorrDim(int64_t n_rot, int64_t original_context, float n_turns, float base) {
  return static_cast<float>(n_rot) *
         std::log(static_cast<float>(original_context) / (n_turns * 2.0f * std::numbers::pi_v<float>)) /
         (2.0f * std::log(base));
}

// 1 for pairs below low (extrapolate), 0 above high (interpolate), linear in between.
float YarnRamp(float low, float high, int64_t pair) {
  const float y = (static_cast<float>(pair) - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

}  // namespace

void Rope(const RopeParams& params, float* x, int64_t n_heads, int64_t head_dim, int64_t pos) {
  assert(params.n_rot % 2 == 0 && params.n_rot <= head_dim);
  const int64_t half = params.n_rot / 2;
  const RopeParams::Yarn& yarn = params.yarn;
  const float freq_scale = 1.0f / yarn.factor;
  float low = 0.0f;
  float high = 0.0f;
  float mscale = yarn.attn_factor;
  if (yarn.ext_factor != 0.0f) {
    low = std::max(0.0f, std::floor(YarnCorrDim(params.n_rot, yarn.original_context, yarn.beta_fast,
                                                params.freq_base)));
    high = std::min(static_cast<float>(params.n_rot - 1),
                    std::ceil(YarnCorrDim(params.n_rot, yarn.original_context, yarn.beta_slow, params.freq_base)));
    mscale *= 1.0f + 0.1f * std::log(1.0f / freq_scale);
  }

  // ggml's angle recurrence: theta_i = pos * theta_scale^i by repeated f32 multiplication.
  const float theta_scale = std::pow(params.freq_base, -2.0f / static_cast<float>(params.n_rot));
  std::vector<float> cos_sin(2 * half);
  float theta_extrap = static_cast<float>(pos);
  for (int64_t i = 0; i < half; ++i) {
    float theta = freq_scale * theta_extrap;
    if (yarn.ext_factor != 0.0f) {
      const float mix = YarnRamp(low, high, i) * yarn.ext_factor;
      theta = theta * (1.0f - mix) + theta_extrap * mix;
    }
    cos_sin[2 * i] = std::cos(theta) * mscale;
    cos_sin[2 * i + 1] = std::sin(theta) * mscale;
    theta_extrap *= theta_scale;
  }

  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i];
      const float s = cos_sin[2 * i + 1];
      const float a = head[i];
      const float b = head[i + half];
      head[i] = a * c - b * s;
      head[i + half] = a * s + b * c;
    }
  }
}

}  // namespace tandem
