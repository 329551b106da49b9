// SwiGLU gating of the expert / FFN hidden state.
#pragma once

#include <cstdint>

namespace tandem {

// out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)).
// gate, up, out: [n] f32 (out may alias gate or up).
void SwiGlu(const float* gate, const float* up, int64_t n, float* out);

}  // namespace tandem
