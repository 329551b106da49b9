#include "net/ucx_endpoints.h"

#include "common/log.h"
#include "net/ucx_worker.h"

namespace tandem {

UcxEndpoints::UcxEndpoints(ucp_worker_h worker, int size) : worker_(worker), peers_(static_cast<size_t>(size)) {}

void UcxEndpoints::OnError(void* peer, ucp_ep_h, ucs_status_t status) { static_cast<Peer*>(peer)->error = status; }

Expected<std::unique_ptr<UcxEndpoints>> UcxEndpoints::Create(ucp_worker_h worker, int rank,
                                                             std::span<const std::vector<uint8_t>> addresses,
                                                             bool report_peer_failure) {
  std::unique_ptr<UcxEndpoints> endpoints(new UcxEndpoints(worker, static_cast<int>(addresses.size())));
  for (int peer = 0; peer < endpoints->size(); ++peer) {
    if (peer == rank) continue;
    auto ucx_address = UcxAddressInBlob(addresses[peer]);
    if (!ucx_address.ok()) return ucx_address.status().WithContext(fmt::format("rank {}'s address", peer));
    Peer& p = endpoints->peers_[peer];
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
    params.address = reinterpret_cast<const ucp_address_t*>(ucx_address->data());
    if (report_peer_failure) {
      // PEER mode: sends to a dead peer complete with an error instead of hanging, and
      // the error handler tells the waiting collective which rank is gone.
      params.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
      params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
      params.err_handler.cb = &UcxEndpoints::OnError;
      params.err_handler.arg = &p;
    }
    const ucs_status_t st = ucp_ep_create(worker, &params, &p.ep);
    if (st != UCS_OK) {
      p.ep = nullptr;
      return Status::Error(
          "UCX: no endpoint to rank {}: {} (is its address current, do both ranks share a transport{}?)", peer,
          ucs_status_string(st),
          report_peer_failure ? ", and can one of them report a dead peer (tcp, RDMA; not shared memory: "
                                "for that set report_peer_failure = false)"
                              : "");
    }
  }
  return endpoints;
}

UcxEndpoints::~UcxEndpoints() { Close(/*force=*/true, std::chrono::steady_clock::now()); }

void UcxEndpoints::Close(bool force, std::chrono::steady_clock::time_point deadline) {
  std::vector<void*> closing;
  for (Peer& p : peers_) {
    if (p.ep == nullptr) continue;
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags = (force || p.error != UCS_OK) ? UCP_EP_CLOSE_FLAG_FORCE : 0;
    ucs_status_ptr_t request = ucp_ep_close_nbx(p.ep, &param);
    p.ep = nullptr;
    if (UCS_PTR_IS_PTR(request)) closing.push_back(request);
  }
  // A forced close completes within a progress call or two; a flushing one waits for the peer.
  while (!closing.empty()) {
    ucp_worker_progress(worker_);
    std::erase_if(closing, [](void* request) {
      if (ucp_request_check_status(request) == UCS_INPROGRESS) return false;
      ucp_request_free(request);
      return true;
    });
    if (closing.empty() || std::chrono::steady_clock::now() < deadline) continue;
    if (!force)
      Log(Subsystem::kNet).debug("UCX: {} endpoints did not flush before the deadline; dropping them", closing.size());
    break;
  }
  for (void* request : closing) ucp_request_free(request);  // released by UCX when done
}

}  // namespace tandem
