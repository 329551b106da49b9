// Rotary position embedding, NEOX style (both qwen3moe and minimax-m2), with YaRN
// context extension computed like ggml's rope_yarn.
#pragma once

#include <cstdint>

namespace tandem {

struct RopeParams {
  float freq_base = 10000.0f;
  int64_t n_rot = 0;  // rotated dims per head: even, <= head_dim; the rest pass through
  struct Yarn {
    float factor = 1.0f;           // context scaling factor; 1 = off (freq_scale = 1 / factor)
    int64_t original_context = 0;  // context the model was trained on (n_ctx_orig)
    float attn_factor = 1.0f;      // multiplies cos and sin
    float beta_fast = 32.0f;
    float beta_slow = 1.0f;
    float ext_factor = 0.0f;       // weight of the extrapolation ramp; llama.cpp uses 1 for YaRN
  } yarn;
};

// Rotates x: [n_heads, head_dim] f32 in place for position pos. In each head, for
// i < n_rot / 2, the pair (x[i], x[i + n_rot / 2]) turns by pos * freq_base^(-2i / n_rot)
// (YaRN-adjusted); dims >= n_rot are untouched.
void Rope(const RopeParams& params, float* x, int64_t n_heads, int64_t head_dim, int64_t pos);

}  // namespace tandem
