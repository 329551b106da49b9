// Rounds activations the way ggml's CPU backend does before a dot product with quantized
// weights: it converts x to the weight type's "vec_dot_type" (Q8_K for K-quants and
// IQ4_XS, Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL/MXFP4, Q8_1 for Q4_1/Q5_1, F16/BF16 for those
// weights). Feeding the rounded x to DotRow reproduces llama.cpp's products up to the
// order of float additions: the reference engine uses it to compare with llama.cpp on
// quantized models, where exact f32 activations differ by the quantization noise.
#pragma once

#include <cstdint>

#include "model/ggml_type.h"

namespace tandem {

// x: [n] f32 -> out: [n] f32 (may alias x); n a multiple of 256 for K-quant weights,
// of 32 otherwise. F32 weights: a copy.
void RoundActivationsLikeGgml(GgmlType weight_type, const float* x, int64_t n, float* out);

}  // namespace tandem
