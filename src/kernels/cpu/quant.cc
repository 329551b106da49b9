// Dispatch of quant.h's row functions to the per-type implementations.
#include "kernels/cpu/quant.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "kernels/cpu/block_formats.h"
#include "kernels/cpu/quant_rows.h"

namespace tandem {
namespace {

struct RowCodec {
  void (*dequantize)(const void* src, float* dst, int64_t n);
  void (*quantize)(const float* src, void* dst, int64_t n);
};

RowCodec CodecFor(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return {DequantizeF32, QuantizeF32};
    case GgmlType::F16: return {DequantizeF16, QuantizeF16};
    case GgmlType::BF16: return {DequantizeBf16, QuantizeBf16};
    case GgmlType::Q4_0: return {DequantizeQ4_0, QuantizeQ4_0};
    case GgmlType::Q4_1: return {DequantizeQ4_1, QuantizeQ4_1};
    case GgmlType::Q5_0: return {DequantizeQ5_0, QuantizeQ5_0};
    case GgmlType::Q5_1: return {DequantizeQ5_1, QuantizeQ5_1};
    case GgmlType::Q8_0: return {DequantizeQ8_0, QuantizeQ8_0};
    case GgmlType::Q2_K: return {DequantizeQ2_K, QuantizeQ2_K};
    case GgmlType::Q3_K: return {DequantizeQ3_K, QuantizeQ3_K};
    case GgmlType::Q4_K: return {DequantizeQ4_K, QuantizeQ4_K};
    case GgmlType::Q5_K: return {DequantizeQ5_K, QuantizeQ5_K};
    case GgmlType::Q6_K: return {DequantizeQ6_K, QuantizeQ6_K};
    case GgmlType::IQ4_NL: return {DequantizeIq4Nl, QuantizeIq4Nl};
    case GgmlType::IQ4_XS: return {DequantizeIq4Xs, QuantizeIq4Xs};
    case GgmlType::MXFP4: return {DequantizeMxfp4, QuantizeMxfp4};
    default: break;
  }
  std::fprintf(stderr, "tandem: no CPU quant codec for ggml type %u\n", static_cast<unsigned>(type));
  std::abort();  // the loader rejects unsupported types: reaching here is a bug
}

// sum_i a[i] * b[i] over 8 independent f32 lanes, so the loop vectorises and the
// rounding error grows with n / 8 rather than n.
float DotChunk(const float* a, const float* b, int n) {
  float lanes[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) lanes[k] += a[i + k] * b[i + k];
  }
  for (; i < n; ++i) lanes[0] += a[i] * b[i];
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

}  // namespace

void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n) { CodecFor(type).dequantize(src, dst, n); }

float DotRow(GgmlType type, const void* row, const float* x, int64_t n) {
  // 256 elements: one K-quant super-block, 8 legacy blocks, or 256 plain floats.
  constexpr int64_t kChunk = kQK_K;
  const auto dequantize = CodecFor(type).dequantize;
  const auto* bytes = static_cast<const uint8_t*>(row);
  const uint64_t chunk_bytes = RowBytes(type, kChunk);
  float block[kChunk];
  float sum = 0.0f;
  for (int64_t i = 0; i < n; i += kChunk, bytes += chunk_bytes) {
    const int64_t len = std::min(kChunk, n - i);  // a whole number of blocks
    dequantize(bytes, block, len);
    sum += DotChunk(block, x + i, static_cast<int>(len));
  }
  return sum;
}

void DotRowTokens(GgmlType type, const void* row, const float* x, int64_t n, int64_t n_tokens, float* y,
                  int64_t y_stride) {
  constexpr int64_t kChunk = kQK_K;  // as DotRow: the same chunks, summed in the same order
  const auto dequantize = CodecFor(type).dequantize;
  const auto* bytes = static_cast<const uint8_t*>(row);
  const uint64_t chunk_bytes = RowBytes(type, kChunk);
  float block[kChunk];
  for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride] = 0.0f;
  for (int64_t i = 0; i < n; i += kChunk, bytes += chunk_bytes) {
    const int64_t len = std::min(kChunk, n - i);
    dequantize(bytes, block, len);
    for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride] += DotChunk(block, x + t * n + i, static_cast<int>(len));
  }
}

void QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n) { CodecFor(type).quantize(src, dst, n); }

}  // namespace tandem
