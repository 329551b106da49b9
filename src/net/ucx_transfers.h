// The point-to-point messages of one collective: posted together, then waited for
// together by busy-polling the worker (the decode hot path) up to a deadline. A failure
// names the peer: the one whose endpoint broke, whose message had the wrong size, or
// that had not answered at the deadline.
#pragma once

#include <ucp/api/ucp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "common/status.h"
#include "net/ucx_endpoints.h"

namespace tandem {

class UcxTransfers {
 public:
  // max_in_flight: the most messages one collective posts (2 x (ranks - 1)); no
  // allocation happens after construction.
  UcxTransfers(ucp_worker_h worker, int max_in_flight);

  // bytes at data are read or written until Wait returns.
  Status PostSend(const UcxEndpoints& peers, int peer, uint64_t tag, const void* data, size_t bytes);
  Status PostRecv(int peer, uint64_t tag, void* data, size_t bytes);

  // Progresses the worker until every posted message completed; fails at the first
  // broken one, when `timeout` has passed, or soon after *abort turns true. After a
  // failure call Abandon.
  Status Wait(const UcxEndpoints& peers, std::chrono::milliseconds timeout, const std::atomic<bool>& abort);

  // After a failed Wait: cancels the receives and lets go of every request (sends to
  // live peers complete when the caller force-closes the endpoints).
  void Abandon();

 private:
  struct Transfer {
    void* request;  // UCX request, nullptr once complete
    int peer;
    size_t bytes;
    bool receive;
  };
  // The first peer whose transfer is unfinished.
  int FirstPendingPeer() const;
  // Frees completed requests; an error names the peer of a failed or wrong-sized one.
  Status Reap(bool& all_done);

  ucp_worker_h worker_;
  std::vector<Transfer> in_flight_;  // capacity max_in_flight
};

}  // namespace tandem
