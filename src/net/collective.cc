#include "net/collective.h"

#include <algorithm>

namespace tandem {

Status SoloCollective::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  if (root != 0 || counts.size() != 1) return Status::Error("gather on one rank: root {} of {} counts", root, counts.size());
  if (send != recv) std::copy_n(send, counts[0], recv);
  return Status::Ok();
}

}  // namespace tandem
