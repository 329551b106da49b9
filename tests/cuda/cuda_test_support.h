// Shared by the CUDA backend tests: skipping without a device, host <-> device copies
// through a CudaBackend, and the normalised error the tables bound.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "engine/cuda_backend.h"

namespace tandem::testing {

// Why no GPU test can run here, or empty when a device is present.
inline std::string NoDeviceReason() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(err);
  if (n == 0) return "no CUDA device";
  return "";
}

#define SKIP_WITHOUT_CUDA_DEVICE()                                                       \
  do {                                                                                   \
    const std::string why = ::tandem::testing::NoDeviceReason();                         \
    if (!why.empty()) GTEST_SKIP() << why << " (CUDA test skipped)";                     \
  } while (0)

// max |got - want| / max |want|; infinity when got has a non-finite value (an unwritten
// output poisoned with NaN fails).
inline double NormalisedError(std::span<const float> want, std::span<const float> got) {
  if (want.size() != got.size()) return INFINITY;
  double max_err = 0, max_abs = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    max_err = std::max(max_err, std::fabs(double{want[i]} - double{got[i]}));
    max_abs = std::max(max_abs, std::fabs(double{want[i]}));
  }
  return max_abs > 0 ? max_err / max_abs : max_err;
}

// Device copies through the backend under test (freed with it).
template <typename T>
T* ToDevice(CudaBackend& b, std::span<const T> host) {
  auto mem = b.Allocate(std::max<uint64_t>(host.size_bytes(), 4));
  EXPECT_TRUE(mem.ok()) << mem.status().message();
  if (!mem.ok()) return nullptr;
  b.Upload(host.data(), *mem, host.size_bytes());
  return static_cast<T*>(*mem);
}

template <typename T>
T* ToDevice(CudaBackend& b, const std::vector<T>& host) {
  return ToDevice(b, std::span<const T>(host));
}

// n elements, filled with NaN bytes so an element no kernel writes is caught.
template <typename T>
T* PoisonedDevice(CudaBackend& b, int64_t n) {
  std::vector<T> nan(static_cast<size_t>(n));
  std::fill(reinterpret_cast<unsigned char*>(nan.data()), reinterpret_cast<unsigned char*>(nan.data() + n), 0xff);
  return ToDevice(b, nan);
}

template <typename T>
std::vector<T> FromDevice(CudaBackend& b, const T* device, int64_t n) {
  std::vector<T> host(static_cast<size_t>(n));
  const Status st = b.Download(device, host.data(), host.size() * sizeof(T));
  EXPECT_TRUE(st.ok()) << st.message();
  return host;
}

// kNone by default: the products then have the CPU reference's f32 activations.
inline std::unique_ptr<CudaBackend> MakeCudaBackend(ActivationRounding activations = ActivationRounding::kNone) {
  CudaBackendOptions options;
  options.activations = activations;
  auto b = CudaBackend::Create(options);
  EXPECT_TRUE(b.ok()) << b.status().message();
  return b.ok() ? std::move(b).value() : nullptr;
}

}  // namespace tandem::testing
