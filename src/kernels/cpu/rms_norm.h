// RMS normalisation: y = x / sqrt(mean(x^2) + eps) * w, as ggml computes it (squares
// accumulated in double, scale applied in f32, then the weight). Split into SumSquares and
// RmsNormApply so a norm over a vector sharded across devices can all-reduce the partial
// sums and agree with the unsharded norm.
#pragma once

#include <cstdint>

namespace tandem {

// sum_i x[i]^2, each f32 square accumulated in double. x: [n] f32.
double SumSquares(const float* x, int64_t n);

// 1 / sqrt(sum_squares / n_total + eps), rounded as RmsNormApply rounds it.
float RmsScale(double sum_squares, int64_t n_total, float eps);

// y = x * (1 / sqrt(sum_squares / n_total + eps)) * w; x, y: [n] f32 (y may be x);
// w: [n] f32 or nullptr (no weight). n_total is the length of the whole (unsharded) vector.
void RmsNormApply(const float* x, const float* w, int64_t n, double sum_squares, int64_t n_total, float eps,
                  float* y);

// Whole vector: x, y: [n] f32 (y may be x), w: [n] f32 or nullptr.
void RmsNorm(const float* x, const float* w, int64_t n, float eps, float* y);

// Per group (Qwen3's q/k norm: a group per head): x, y: [n_groups, group_size] f32 (y may
// be x), each group normalised on its own with the shared w: [group_size] f32 or nullptr.
void RmsNormGroups(const float* x, const float* w, int64_t n_groups, int64_t group_size, float eps, float* y);

}  // namespace tandem
