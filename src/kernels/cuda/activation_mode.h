// How the matrix x vector kernels take their f32 activations (quant_matvec.h).
#pragma once

namespace tandem {

enum class ActivationRounding {
  // f32 activations as given: the product of kernels/cpu/matvec.h's MatMul.
  kNone,
  // Rounded first exactly like RoundActivationsLikeGgml (kernels/cpu/activation_rounding.h):
  // int8 with one scale per 256 (K-quants, IQ4_XS) or per 32 (the 32-element block types),
  // f16 / bf16 for F16 / BF16 weights, none for F32. Quantized weights then take int8 dot
  // products (dp4a); the CPU twin is RoundActivationsLikeGgml followed by MatMul, which the
  // CPU backend runs under CpuBackendOptions::ggml_activation_rounding.
  kLikeGgml,
};

}  // namespace tandem
