// The UCX endpoints from one rank to every other rank of its group, and what UCX said
// went wrong on each (a peer that died or reset the connection).
#pragma once

#include <ucp/api/ucp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/status.h"

namespace tandem {

class UcxEndpoints {
 public:
  // Endpoints from `rank` to every other rank; addresses: every rank's
  // UcxWorker::address() blob in rank order (this rank's is not dialled).
  // report_peer_failure: UcxOptions::report_peer_failure.
  static Expected<std::unique_ptr<UcxEndpoints>> Create(ucp_worker_h worker, int rank,
                                                        std::span<const std::vector<uint8_t>> addresses,
                                                        bool report_peer_failure);
  // Closes whatever Close() left open, forcibly.
  ~UcxEndpoints();
  UcxEndpoints(const UcxEndpoints&) = delete;
  UcxEndpoints& operator=(const UcxEndpoints&) = delete;

  int size() const { return static_cast<int>(peers_.size()); }
  ucp_ep_h ep(int peer) const { return peers_[peer].ep; }
  // UCS_OK while the endpoint to `peer` is healthy, else the error UCX reported.
  ucs_status_t error(int peer) const { return peers_[peer].error; }

  // Closes every endpoint: `force` drops them at once (after a failure; in-flight sends
  // complete with UCS_ERR_CANCELED), otherwise they flush first, up to `deadline`.
  void Close(bool force, std::chrono::steady_clock::time_point deadline);

 private:
  struct Peer {
    ucp_ep_h ep = nullptr;
    ucs_status_t error = UCS_OK;
  };
  UcxEndpoints(ucp_worker_h worker, int size);
  static void OnError(void* peer, ucp_ep_h ep, ucs_status_t status);

  ucp_worker_h worker_;
  std::vector<Peer> peers_;  // [size] by rank; this rank's has no ep; never resized (OnError holds pointers)
};

}  // namespace tandem
