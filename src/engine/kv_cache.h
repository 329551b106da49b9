// Keys and values of every layer for the KV heads a shard owns, preallocated for a
// fixed context length, stored as f32 or f16.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "kernels/cpu/attention.h"

namespace tandem {

class KvCache {
 public:
  // n_kv_head: the heads this shard holds.
  static Expected<KvCache> Create(int64_t n_layer, int64_t n_ctx, int64_t n_kv_head, int64_t head_dim,
                                  KvStorage storage);

  int64_t n_layer() const { return n_layer_; }
  int64_t n_ctx() const { return n_ctx_; }
  uint64_t bytes() const { return static_cast<uint64_t>(k_.size() + v_.size()); }

  // Stores k, v: [n_kv_head, head_dim] f32 of `layer` at position `pos` (< n_ctx).
  void Store(int64_t layer, int64_t pos, const float* k, const float* v);
  KvView Keys(int64_t layer) const { return View(k_, layer); }
  KvView Values(int64_t layer) const { return View(v_, layer); }

 private:
  KvView View(const std::vector<uint8_t>& data, int64_t layer) const;
  void Put(std::vector<uint8_t>& data, int64_t layer, int64_t pos, const float* x);

  int64_t n_layer_ = 0, n_ctx_ = 0, n_kv_head_ = 0, head_dim_ = 0;
  KvStorage storage_ = KvStorage::kF16;
  uint64_t elem_bytes_ = 2;
  std::vector<uint8_t> k_;  // [n_layer, n_ctx, n_kv_head, head_dim] of storage_
  std::vector<uint8_t> v_;  // same
};

}  // namespace tandem
