#include "model/model_fingerprint.h"

#include <fmt/format.h>

namespace tandem {
namespace {

class Fnv1a {
 public:
  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) hash_ = (hash_ ^ p[i]) * 0x100000001b3ull;
  }
  void Add(std::string_view s) {
    Add(s.data(), s.size());
    Add("", 1);  // a terminator, so "ab"+"c" and "a"+"bc" differ
  }
  void Add(uint64_t v) { Add(&v, sizeof(v)); }
  uint64_t hash() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace

std::string ModelFingerprint(const GgufModel& model) {
  Fnv1a h;
  for (const auto& [key, value] : model.metadata().entries()) h.Add(key);
  for (const Tensor& t : model.tensors()) {
    h.Add(t.name());
    h.Add(static_cast<uint64_t>(t.type()));
    for (int64_t d : t.info.ne) h.Add(static_cast<uint64_t>(d));
    h.Add(t.info.nbytes);
  }
  return fmt::format("{}/{}/{:016x}", model.architecture(), model.tensors().size(), h.hash());
}

}  // namespace tandem
