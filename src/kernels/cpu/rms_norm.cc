#include "kernels/cpu/rms_norm.h"

#include <cmath>

namespace tandem {

double SumSquares(const float* x, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  return sum;
}

float RmsScale(double sum_squares, int64_t n_total, float eps) {
  const float mean = static_cast<float>(sum_squares / static_cast<double>(n_total));
  return 1.0f / std::sqrt(mean + eps);
}

void RmsNormApply(const float* x, const float* w, int64_t n, double sum_squares, int64_t n_total, float eps,
                  float* y) {
  const float scale = RmsScale(sum_squares, n_total, eps);
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] * scale;
    y[i] = w ? v * w[i] : v;
  }
}

void RmsNorm(const float* x, const float* w, int64_t n, float eps, float* y) {
  RmsNormApply(x, w, n, SumSquares(x, n), n, eps, y);
}

void RmsNormGroups(const float* x, const float* w, int64_t n_groups, int64_t group_size, float eps, float* y) {
  for (int64_t g = 0; g < n_groups; ++g) RmsNorm(x + g * group_size, w, group_size, eps, y + g * group_size);
}

}  // namespace tandem
