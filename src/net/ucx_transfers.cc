#include "net/ucx_transfers.h"

#include <sched.h>

#include <thread>

#include "net/ucx_tag.h"

namespace tandem {
namespace {

using Clock = std::chrono::steady_clock;

// Polls between looks at the clock and the endpoints' health (a poll is ~0.1 µs idle).
constexpr int kPollsPerCheck = 64;
// A wait longer than this is a slow peer rather than message latency: from then on the
// poller yields its core between checks (ranks may share cores with other work).
constexpr auto kSpinBeforeYield = std::chrono::microseconds(50);
// A wait this long is not a step's collective but a rank idle between requests: it naps
// between polls instead of holding a core (the next request pays at most one nap).
constexpr auto kSpinBeforeNap = std::chrono::milliseconds(100);
constexpr auto kNap = std::chrono::microseconds(200);

Status SizeError(int peer, size_t got, size_t expected) {
  return Status::Error("rank {} sent {} B where {} B were expected (the ranks called different collectives or sizes)",
                       peer, got, expected);
}

Status ReceiveError(int peer, ucs_status_t status, size_t expected) {
  if (status == UCS_ERR_MESSAGE_TRUNCATED) {
    return Status::Error("rank {} sent more than the {} B expected (the ranks called different collectives or sizes)",
                         peer, expected);
  }
  return Status::Error("receiving from rank {} failed: UCX {}", peer, ucs_status_string(status));
}

}  // namespace

UcxTransfers::UcxTransfers(ucp_worker_h worker, int max_in_flight) : worker_(worker) {
  in_flight_.reserve(static_cast<size_t>(max_in_flight));
}

Status UcxTransfers::PostSend(const UcxEndpoints& peers, int peer, uint64_t tag, const void* data, size_t bytes) {
  ucp_request_param_t param{};  // bytes, contiguous
  ucs_status_ptr_t request = ucp_tag_send_nbx(peers.ep(peer), data, bytes, tag, &param);
  if (UCS_PTR_IS_ERR(request)) {
    return Status::Error("sending {} B to rank {} failed: UCX {}", bytes, peer,
                         ucs_status_string(UCS_PTR_STATUS(request)));
  }
  if (request != nullptr) in_flight_.push_back({request, peer, bytes, false});
  return Status::Ok();
}

Status UcxTransfers::PostRecv(int peer, uint64_t tag, void* data, size_t bytes) {
  ucp_request_param_t param{};
  // Always a request, even when the message is already here: this UCX (1.13) leaves
  // recv_info unfilled on immediate completion, and Reap needs the received length.
  param.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  ucs_status_ptr_t request = ucp_tag_recv_nbx(worker_, data, bytes, tag, kUcxTagMatchAll, &param);
  if (UCS_PTR_IS_ERR(request)) return ReceiveError(peer, UCS_PTR_STATUS(request), bytes);
  in_flight_.push_back({request, peer, bytes, true});
  return Status::Ok();
}

Status UcxTransfers::Reap(bool& all_done) {
  all_done = true;
  for (Transfer& t : in_flight_) {
    if (t.request == nullptr) continue;
    ucp_tag_recv_info_t info{};
    const ucs_status_t status =
        t.receive ? ucp_tag_recv_request_test(t.request, &info) : ucp_request_check_status(t.request);
    if (status == UCS_INPROGRESS) {
      all_done = false;
      continue;
    }
    ucp_request_free(t.request);
    t.request = nullptr;
    if (!t.receive && status != UCS_OK) {
      return Status::Error("sending to rank {} failed: UCX {}", t.peer, ucs_status_string(status));
    }
    if (t.receive && status != UCS_OK) return ReceiveError(t.peer, status, t.bytes);
    if (t.receive && info.length != t.bytes) return SizeError(t.peer, info.length, t.bytes);
  }
  return Status::Ok();
}

int UcxTransfers::FirstPendingPeer() const {
  for (const Transfer& t : in_flight_) {
    if (t.request != nullptr) return t.peer;
  }
  return -1;
}

Status UcxTransfers::Wait(const UcxEndpoints& peers, std::chrono::milliseconds timeout,
                          const std::atomic<bool>& abort) {
  const Clock::time_point start = Clock::now();
  for (int polls = 1;; ++polls) {
    ucp_worker_progress(worker_);
    bool all_done = false;
    TANDEM_TRY(Reap(all_done));
    if (all_done) {
      in_flight_.clear();
      return Status::Ok();
    }
    if (polls % kPollsPerCheck != 0) continue;
    if (abort.load(std::memory_order_relaxed)) return Status::Unavailable("the group was aborted");
    for (const Transfer& t : in_flight_) {
      if (t.request != nullptr && peers.error(t.peer) != UCS_OK) {
        return Status::Unavailable("lost the connection to rank {}: UCX {} (the rank's process died or closed the group)",
                             t.peer, ucs_status_string(peers.error(t.peer)));
      }
    }
    const Clock::duration waited = Clock::now() - start;
    if (waited >= timeout) {
      return Status::Unavailable(
          "rank {} did not answer within {} ms (its process died, hangs, or called a different collective)",
          FirstPendingPeer(), timeout.count());
    }
    if (waited > kSpinBeforeNap) {
      std::this_thread::sleep_for(kNap);
    } else if (waited > kSpinBeforeYield) {
      sched_yield();
    }
  }
}

void UcxTransfers::Abandon() {
  for (Transfer& t : in_flight_) {
    if (t.request == nullptr) continue;
    if (t.receive) ucp_request_cancel(worker_, t.request);
    ucp_request_free(t.request);  // UCX releases it when it completes
  }
  in_flight_.clear();
}

}  // namespace tandem
