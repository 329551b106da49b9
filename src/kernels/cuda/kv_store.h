// Writing new keys and values into the device KV cache (f32 or f16 storage): the CUDA
// twin of KvCache::Store (engine/kv_cache.h).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tandem {

// cache: device, one layer's [n_ctx, kv_dim] of f16 (f16 true) or f32; src: device f32
// [n_tokens, kv_dim], token t written at position pos0 + t (the caller keeps it < n_ctx).
// f16 rounds to nearest even like F32ToF16.
cudaError_t StoreKvRows(void* cache, bool f16, int64_t kv_dim, int64_t pos0, const float* src, int64_t n_tokens,
                        cudaStream_t stream);

// cache: device [n] f16 or f32 set to deterministic pseudo-random values in [-1, 1]
// (a synthetic context for benchmarks); seed varies them between caches.
cudaError_t FillKvRandom(void* cache, bool f16, int64_t n, uint32_t seed, cudaStream_t stream);

}  // namespace tandem
