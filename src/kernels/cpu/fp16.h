// Scalar conversions between f32 and the 16-bit float formats that GGUF stores.
#pragma once

#include <cstdint>

namespace tandem {

float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);  // round to nearest even, inf/nan kept
float Bf16ToF32(uint16_t h);
uint16_t F32ToBf16(float f);  // round to nearest even (nan stays nan)

}  // namespace tandem
