// Keys and values of every layer for the KV heads a shard owns, preallocated for a
// fixed context length per sequence and a fixed number of sequences, stored as f32 or f16.
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
                                  KvStorage storage, int64_t n_seq = 1);

  int64_t n_layer() const { return n_layer_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_seq() const { return n_seq_; }
  uint64_t bytes() const { return static_cast<uint64_t>(k_.size() + v_.size()); }

  // Stores k, v: [n_kv_head, head_dim] f32 of `layer` at position `pos` (< n_ctx) of
  // sequence `seq` (< n_seq).
  void Store(int64_t layer, int64_t seq, int64_t pos, const float* k, const float* v);
  // Only k, replacing the key stored there.
  void StoreKey(int64_t layer, int64_t seq, int64_t pos, const float* k) { Put(k_, layer, seq, pos, k); }
  KvView Keys(int64_t layer, int64_t seq) const { return View(k_, layer, seq); }
  KvView Values(int64_t layer, int64_t seq) const { return View(v_, layer, seq); }

 private:
  uint64_t Offset(int64_t layer, int64_t seq, int64_t pos) const;  // bytes
  KvView View(const std::vector<uint8_t>& data, int64_t layer, int64_t seq) const;
  void Put(std::vector<uint8_t>& data, int64_t layer, int64_t seq, int64_t pos, const float* x);

  int64_t n_layer_ = 0, n_ctx_ = 0, n_seq_ = 1, n_kv_head_ = 0, head_dim_ = 0;
  KvStorage storage_ = KvStorage::kF16;
  uint64_t elem_bytes_ = 2;
  std::vector<uint8_t> k_;  // [n_layer, n_seq, n_ctx, n_kv_head, head_dim] of storage_
  std::vector<uint8_t> v_;  // same
};

}  // namespace tandem
