#include "kernels/cuda/quant_matvec.h"

#include <algorithm>
#include <limits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/quant_matvec_launch.h"

namespace tandem {
namespace {

bool IsFloatType(GgmlType type) { return type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16; }

// Checks every argument and fills `args` (rows == 0: nothing to run).
Status CheckArgs(GgmlType type, const void* w, int64_t rows, int64_t cols, uint64_t row_stride, const float* x,
                 int64_t n_tokens, float* y, cuda_detail::QuantMatMulArgs& args) {
  const auto supported = SupportedTypes();
  if (std::find(supported.begin(), supported.end(), type) == supported.end()) {
    return Status::Error("QuantMatMul: weight type {} has no CUDA kernel (supported: the 16 of SupportedTypes())",
                         TypeName(type));
  }
  const GgmlTypeInfo& info = TypeInfo(type);
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  if (rows < 0 || rows > kIntMax || cols <= 0 || cols > kIntMax || cols % info.block_size != 0) {
    return Status::Error("QuantMatMul: {} matrix [{} rows, {} cols]: cols must be a positive multiple of {} and "
                         "both below 2^31",
                         info.name, rows, cols, info.block_size);
  }
  if (n_tokens < 1 || n_tokens > kQuantMatMulMaxTokens) {
    return Status::Error("QuantMatMul: n_tokens {} outside 1..{}", n_tokens, kQuantMatMulMaxTokens);
  }
  const uint64_t row_bytes = RowBytes(type, static_cast<uint64_t>(cols));
  if (row_stride == 0) row_stride = row_bytes;
  if (row_stride < row_bytes) {
    return Status::Error("QuantMatMul: {} row stride {} bytes is shorter than a row of {} cols ({} bytes)", info.name,
                         row_stride, cols, row_bytes);
  }
  if (rows == 0) {
    args.rows = 0;
    return Status::Ok();
  }
  if (w == nullptr || x == nullptr || y == nullptr) {
    return Status::Error("QuantMatMul: null pointer (w {}, x {}, y {})", w, static_cast<const void*>(x),
                         static_cast<const void*>(y));
  }
  if (!IsFloatType(type) && reinterpret_cast<uintptr_t>(x) % 16 != 0) {
    return Status::Error("QuantMatMul: activations at {} are not 16-byte aligned ({} weights read x 8 floats at a time)",
                         static_cast<const void*>(x), info.name);
  }
  args = cuda_detail::QuantMatMulArgs{type, static_cast<const uint8_t*>(w), rows, cols, row_stride,
                                     x,    static_cast<int>(n_tokens),      y};
  return Status::Ok();
}

// Runs `args` on the kernel its rounding asks for: the int8 one for quantized types under
// kLikeGgml, in token chunks whose rounded activations fit its shared memory.
Status Launch(cuda_detail::QuantMatMulArgs args, ActivationRounding rounding, cudaStream_t stream) {
  args.rounding = rounding;
  if (rounding == ActivationRounding::kNone || IsFloatType(args.type)) {
    TANDEM_CUDA_TRY(cuda_detail::LaunchQuantMatMul(args, stream));
    return Status::Ok();
  }
  int64_t per_launch = args.n_tokens;
  while (per_launch > 1 && cuda_detail::Q8SharedBytes(args.cols, per_launch) > cuda_detail::kQ8SharedLimit) {
    per_launch /= 2;
  }
  if (cuda_detail::Q8SharedBytes(args.cols, per_launch) > cuda_detail::kQ8SharedLimit) {
    return Status::Error("QuantMatMul: {} int8 activations of {} cols need {} bytes of shared memory (limit {}): "
                         "rows this long take ActivationRounding::kNone",
                         TypeName(args.type), args.cols, cuda_detail::Q8SharedBytes(args.cols, 1),
                         cuda_detail::kQ8SharedLimit);
  }
  const int n_tokens = args.n_tokens;
  const float* x = args.x;
  const float* x_up = args.x_up;
  float* y = args.y;
  for (int t0 = 0; t0 < n_tokens; t0 += static_cast<int>(per_launch)) {
    args.n_tokens = std::min(static_cast<int>(per_launch), n_tokens - t0);
    args.x = x + static_cast<int64_t>(t0) * args.cols;
    if (x_up != nullptr) args.x_up = x_up + static_cast<int64_t>(t0) * args.cols;
    args.y = y + static_cast<int64_t>(t0) * args.rows;
    TANDEM_CUDA_TRY(cuda_detail::LaunchQuantMatMulQ8(args, stream));
  }
  return Status::Ok();
}

}  // namespace

Status QuantMatMul(GgmlType type, const void* w, int64_t rows, int64_t cols, uint64_t row_stride, const float* x,
                   int64_t n_tokens, float* y, cudaStream_t stream, ActivationRounding rounding) {
  cuda_detail::QuantMatMulArgs args{};
  TANDEM_TRY(CheckArgs(type, w, rows, cols, row_stride, x, n_tokens, y, args));
  if (args.rows == 0) return Status::Ok();
  return Launch(args, rounding, stream);
}

Status QuantMatMulExperts(GgmlType type, const void* w, int64_t rows, int64_t cols, uint64_t row_stride,
                          const ExpertProducts& e, const float* x, float* y, cudaStream_t stream,
                          ActivationRounding rounding) {
  if (e.n_pairs < 1 || e.n_pairs > 32767 || e.pairs_per_x < 1 || e.ids == nullptr) {
    return Status::Error("QuantMatMulExperts: {} pairs ({} per x row, ids {}): need 1..32767 pairs and ids",
                         e.n_pairs, e.pairs_per_x, static_cast<const void*>(e.ids));
  }
  if ((e.w_second == nullptr) != (e.y_second == nullptr)) {
    return Status::Error("QuantMatMulExperts: a second matrix set needs both its weights and its output");
  }
  if (e.x_up != nullptr && reinterpret_cast<uintptr_t>(e.x_up) % 16 != 0) {
    return Status::Error("QuantMatMulExperts: SwiGLU up activations at {} are not 16-byte aligned",
                         static_cast<const void*>(e.x_up));
  }
  if (e.expert_begin < 0 || e.n_expert < 0 || e.expert_begin + e.n_expert > std::numeric_limits<int>::max()) {
    return Status::Error("QuantMatMulExperts: experts [{}, {}) out of range", e.expert_begin,
                         e.expert_begin + e.n_expert);
  }
  cuda_detail::QuantMatMulArgs args{};
  TANDEM_TRY(CheckArgs(type, w, rows, cols, row_stride, x, 1, y, args));
  if (args.rows == 0 || e.n_expert == 0) return Status::Ok();
  if (e.expert_stride < args.row_stride * static_cast<uint64_t>(rows - 1) + RowBytes(type, cols)) {
    return Status::Error("QuantMatMulExperts: expert stride {} bytes is shorter than one expert's {} rows",
                         e.expert_stride, rows);
  }
  args.experts = cuda_detail::ExpertIndex{e.ids,
                                          static_cast<int>(e.n_pairs),
                                          static_cast<int>(e.pairs_per_x),
                                          static_cast<int>(e.expert_begin),
                                          static_cast<int>(e.n_expert),
                                          e.expert_stride,
                                          static_cast<const uint8_t*>(e.w_second),
                                          e.y_second};
  args.x_up = e.x_up;
  return Launch(args, rounding, stream);
}

}  // namespace tandem
