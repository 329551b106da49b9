// Phase one of joining a UCX group: this rank's UCX context and worker, created before
// the group exists. Its address() — opaque bytes — travels to every other rank (through
// the coordinator's control plane, or a pipe in tests); ConnectUcxCollective
// (net/ucx_collective.h) then takes the worker and every rank's address to make the group.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

struct ucp_context;  // <ucp/api/ucp.h>: ucp_context_h
struct ucp_worker;   // <ucp/api/ucp.h>: ucp_worker_h

namespace tandem {

struct UcxOptions {
  // Longest wait for a peer, in Connect's wire-up and in every collective: a peer that
  // died or stopped answering makes the call fail after this, naming the rank.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  // UCX transports, in UCX_TLS syntax ("tcp,self", "sm,self", "rc,sm,self"); empty: the
  // UCX_TLS environment variable, else UCX's own choice.
  std::string transports;
  // true: UCX reports a dead peer at once (its PEER error mode), on the transports that
  // support it (tcp, RDMA) and only those; false: every transport, shared memory
  // included (UCX 1.13's sm cannot report a dead peer), and `timeout` alone notices one.
  bool report_peer_failure = true;
};

class UcxWorker {
 public:
  static Expected<std::unique_ptr<UcxWorker>> Create(UcxOptions options);
  ~UcxWorker();
  UcxWorker(const UcxWorker&) = delete;
  UcxWorker& operator=(const UcxWorker&) = delete;

  // This worker's name for its peers: a tandem header, then UCX's worker address.
  const std::vector<uint8_t>& address() const { return address_; }
  const UcxOptions& options() const { return options_; }
  ucp_worker* handle() const { return worker_; }

 private:
  UcxWorker(UcxOptions options, ucp_context* context, ucp_worker* worker, std::vector<uint8_t> address);

  UcxOptions options_;
  ucp_context* context_;
  ucp_worker* worker_;
  std::vector<uint8_t> address_;
};

// The UCX worker address inside an address() blob, or an error if `blob` is not one.
Expected<std::span<const uint8_t>> UcxAddressInBlob(std::span<const uint8_t> blob);

}  // namespace tandem
