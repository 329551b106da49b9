#include "engine/host_staged_collective.h"

#include <numeric>

namespace tandem {

HostStagedCollective::HostStagedCollective(std::unique_ptr<Collective> host, Backend& backend,
                                           std::function<bool(const void*)> in_backend_memory)
    : host_(std::move(host)), backend_(backend), in_backend_memory_(std::move(in_backend_memory)) {}

Status HostStagedCollective::AllReduceSum(float* data, int64_t n) {
  if (n <= 0 || !in_backend_memory_(data)) return host_->AllReduceSum(data, n);
  const uint64_t bytes = static_cast<uint64_t>(n) * sizeof(float);
  staged_.resize(bytes);
  TANDEM_TRY(backend_.Download(data, staged_.data(), bytes));
  TANDEM_TRY(host_->AllReduceSum(reinterpret_cast<float*>(staged_.data()), n));
  backend_.Upload(staged_.data(), data, bytes);
  return Status::Ok();
}

Status HostStagedCollective::Broadcast(void* data, uint64_t bytes, int root) {
  if (bytes == 0 || !in_backend_memory_(data)) return host_->Broadcast(data, bytes, root);
  staged_.resize(bytes);
  if (rank() == root) TANDEM_TRY(backend_.Download(data, staged_.data(), bytes));
  TANDEM_TRY(host_->Broadcast(staged_.data(), bytes, root));
  if (rank() != root) backend_.Upload(staged_.data(), data, bytes);
  return Status::Ok();
}

Status HostStagedCollective::AwaitBroadcast(void* data, uint64_t bytes, int root) {
  if (bytes == 0 || !in_backend_memory_(data)) return host_->AwaitBroadcast(data, bytes, root);
  return Broadcast(data, bytes, root);
}

Status HostStagedCollective::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  if (static_cast<int>(counts.size()) != size()) {
    return Status::Error("gather: {} counts for a group of {} ranks", counts.size(), size());
  }
  const int64_t mine = counts[static_cast<size_t>(rank())];
  const float* host_send = send;
  if (mine > 0 && in_backend_memory_(send)) {
    staged_.resize(static_cast<uint64_t>(mine) * sizeof(float));
    TANDEM_TRY(backend_.Download(send, staged_.data(), staged_.size()));
    host_send = reinterpret_cast<const float*>(staged_.data());
  }
  const bool stage_recv = rank() == root && recv != nullptr && in_backend_memory_(recv);
  if (!stage_recv) return host_->Gather(host_send, counts, recv, root);
  staged_recv_.resize(static_cast<size_t>(std::accumulate(counts.begin(), counts.end(), int64_t{0})));
  TANDEM_TRY(host_->Gather(host_send, counts, staged_recv_.data(), root));
  backend_.Upload(staged_recv_.data(), recv, staged_recv_.size() * sizeof(float));
  return Status::Ok();
}

}  // namespace tandem
