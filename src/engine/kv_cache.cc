#include "engine/kv_cache.h"

#include <cstring>
#include <new>

#include "kernels/cpu/fp16.h"

namespace tandem {

Expected<KvCache> KvCache::Create(int64_t n_layer, int64_t n_ctx, int64_t n_kv_head, int64_t head_dim,
                                  KvStorage storage, int64_t n_seq) {
  if (n_ctx <= 0) return Status::Error("context length {} must be positive", n_ctx);
  if (n_seq <= 0) return Status::Error("{} sequences: need at least 1", n_seq);
  KvCache c;
  c.n_layer_ = n_layer;
  c.n_ctx_ = n_ctx;
  c.n_seq_ = n_seq;
  c.n_kv_head_ = n_kv_head;
  c.head_dim_ = head_dim;
  c.storage_ = storage;
  c.elem_bytes_ = storage == KvStorage::kF32 ? 4 : 2;
  const uint64_t bytes = static_cast<uint64_t>(n_layer * n_seq * n_ctx * n_kv_head * head_dim) * c.elem_bytes_;
  try {
    c.k_.resize(bytes);
    c.v_.resize(bytes);
  } catch (const std::bad_alloc&) {
    return Status::Error("cannot allocate a KV cache of 2 x {} bytes for {} sequences of {} positions: use a shorter "
                         "--ctx or fewer parallel sequences",
                         bytes, n_seq, n_ctx);
  }
  return c;
}

uint64_t KvCache::Offset(int64_t layer, int64_t seq, int64_t pos) const {
  return static_cast<uint64_t>(((layer * n_seq_ + seq) * n_ctx_ + pos) * n_kv_head_ * head_dim_) * elem_bytes_;
}

void KvCache::Put(std::vector<uint8_t>& data, int64_t layer, int64_t seq, int64_t pos, const float* x) {
  const int64_t n = n_kv_head_ * head_dim_;
  uint8_t* dst = data.data() + Offset(layer, seq, pos);
  if (storage_ == KvStorage::kF32) {
    std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  auto* h = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = F32ToF16(x[i]);
}

void KvCache::Store(int64_t layer, int64_t seq, int64_t pos, const float* k, const float* v) {
  Put(k_, layer, seq, pos, k);
  Put(v_, layer, seq, pos, v);
}

KvView KvCache::View(const std::vector<uint8_t>& data, int64_t layer, int64_t seq) const {
  return KvView{data.data() + Offset(layer, seq, 0), storage_, n_kv_head_, head_dim_};
}

}  // namespace tandem
