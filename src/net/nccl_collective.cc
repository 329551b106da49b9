#include "net/nccl_collective.h"

#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "kernels/cuda/cuda_check.h"
#include "net/nccl_status.h"

namespace tandem {
namespace {

static_assert(sizeof(ncclUniqueId) == sizeof(NcclUniqueId::bytes), "ncclUniqueId is NCCL_UNIQUE_ID_BYTES");

using Clock = std::chrono::steady_clock;

// NVLink multicast (NVLS) stays off: on the shared multi-GPU hosts we test on, a program
// that uses it can take every GPU of the host out of service for a day or more, and
// tandem's messages (a few KB) gain nothing from it (a Spark has no NVSwitch at all).
// NCCL reads its environment once, at the first call in a process, so this runs before
// any NCCL call; a value the user set (NCCL_NVLS_ENABLE=...) is left as it is.
void KeepNvlinkMulticastOff() { setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0); }

// Polls a non-blocking communicator until its last operation left ncclInProgress, the
// deadline passes, or `stop` (an abort from another thread) is set.
Status WaitReady(ncclComm_t comm, Clock::time_point deadline, std::string_view what, std::chrono::milliseconds timeout,
                 const std::atomic<bool>* stop = nullptr) {
  for (;;) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
      return Status::Unavailable("{}: aborted while NCCL was in progress", what);
    }
    ncclResult_t state = ncclInProgress;
    TANDEM_NCCL_TRY(ncclCommGetAsyncError(comm, &state), comm);
    if (state == ncclSuccess) return Status::Ok();
    if (state != ncclInProgress) {
      return NcclStatus(state, "ncclCommGetAsyncError", comm, __FILE__, __LINE__).WithContext(what);
    }
    if (Clock::now() > deadline) {
      return Status::Unavailable("{}: NCCL still in progress after {} ms: a rank did not join or stopped answering",
                                 what, timeout.count());
    }
    std::this_thread::yield();
  }
}

// How long a communicator being destroyed waits for its peers to flush with it.
constexpr std::chrono::milliseconds kFlushTimeout{2000};

// ncclCommAbort first raises the flag that makes the communicator's kernels exit, then
// frees its resources, which can wait on the device for a long time (or for good when a
// peer died mid-step; NVIDIA/nccl#829, #992). A thread of its own does it, so that neither
// the caller (the coordinator's keeper, a watchdog, a destructor) nor this group's readers
// wait on it: the engine's wait for the step returns once the kernels exit.
void AbortInBackground(ncclComm_t comm) {
  std::thread([comm] { ncclCommAbort(comm); }).detach();
}

}  // namespace

Expected<NcclUniqueId> MakeNcclUniqueId() {
  KeepNvlinkMulticastOff();
  ncclUniqueId id;
  TANDEM_NCCL_TRY(ncclGetUniqueId(&id), nullptr);
  NcclUniqueId out;
  std::memcpy(out.bytes.data(), id.internal, out.bytes.size());
  return out;
}

Expected<NcclUniqueId> NcclUniqueIdFromBytes(std::string_view bytes) {
  NcclUniqueId id;
  if (bytes.size() != id.bytes.size()) {
    return Status::Error("NCCL unique id of {} bytes, expected {}: the coordinator and this worker disagree on NCCL",
                         bytes.size(), id.bytes.size());
  }
  std::memcpy(id.bytes.data(), bytes.data(), id.bytes.size());
  return id;
}

Expected<std::unique_ptr<NcclCollective>> NcclCollective::Connect(const NcclUniqueId& id, int rank, int size,
                                                                 cudaStream_t stream, NcclOptions options) {
  if (size < 1 || rank < 0 || rank >= size) return Status::Error("NCCL group: rank {} of {} ranks", rank, size);
  KeepNvlinkMulticastOff();
  ncclUniqueId nccl_id;
  std::memcpy(nccl_id.internal, id.bytes.data(), id.bytes.size());
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm = nullptr;
  const auto deadline = Clock::now() + options.timeout;
  const ncclResult_t started = ncclCommInitRankConfig(&comm, size, nccl_id, rank, &config);
  Status st = NcclStatus(started, "ncclCommInitRankConfig", comm, __FILE__, __LINE__);
  if (st.ok() && comm == nullptr) st = Status::Error("ncclCommInitRankConfig returned no communicator");
  if (st.ok()) st = WaitReady(comm, deadline, "ncclCommInitRankConfig", options.timeout);
  if (!st.ok()) {
    if (comm != nullptr) ncclCommAbort(comm);
    return st.WithContext(fmt::format("NCCL group: rank {} of {}", rank, size));
  }
  std::unique_ptr<NcclCollective> group(new NcclCollective(comm, rank, size, stream, options));
  TANDEM_TRY(group->CreateSideStream().WithContext(fmt::format("NCCL group: rank {} of {}", rank, size)));
  return group;
}

Expected<std::vector<std::unique_ptr<NcclCollective>>> NcclCollective::ConnectAll(
    std::span<const int> devices, std::span<const cudaStream_t> streams, NcclOptions options) {
  const int size = static_cast<int>(devices.size());
  if (size < 1 || streams.size() != devices.size()) {
    return Status::Error("NCCL group in one process: {} devices and {} streams", devices.size(), streams.size());
  }
  KeepNvlinkMulticastOff();
  ncclUniqueId id;
  TANDEM_NCCL_TRY(ncclGetUniqueId(&id), nullptr);
  int current = 0;
  TANDEM_CUDA_TRY(cudaGetDevice(&current));
  std::vector<ncclComm_t> comms(static_cast<size_t>(size), nullptr);
  const auto deadline = Clock::now() + options.timeout;
  Status st = NcclStatus(ncclGroupStart(), "ncclGroupStart", nullptr, __FILE__, __LINE__);
  for (int r = 0; r < size && st.ok(); ++r) {
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    st = CudaStatus(cudaSetDevice(devices[r]), "cudaSetDevice", __FILE__, __LINE__);
    if (st.ok()) {
      st = NcclStatus(ncclCommInitRankConfig(&comms[r], size, id, r, &config), "ncclCommInitRankConfig", comms[r],
                      __FILE__, __LINE__);
    }
  }
  const Status ended = NcclStatus(ncclGroupEnd(), "ncclGroupEnd", nullptr, __FILE__, __LINE__);
  if (st.ok()) st = ended;
  for (int r = 0; r < size && st.ok(); ++r) {
    if (comms[r] == nullptr) st = Status::Error("ncclCommInitRankConfig returned no communicator for rank {}", r);
    if (st.ok()) st = WaitReady(comms[r], deadline, "ncclCommInitRankConfig", options.timeout);
  }
  cudaSetDevice(current);
  if (!st.ok()) {
    for (ncclComm_t comm : comms) {
      if (comm != nullptr) ncclCommAbort(comm);
    }
    return st.WithContext(fmt::format("NCCL group of {} GPUs in this process", size));
  }
  std::vector<std::unique_ptr<NcclCollective>> group;
  for (int r = 0; r < size; ++r) group.emplace_back(new NcclCollective(comms[r], r, size, streams[r], options));
  for (int r = 0; r < size && st.ok(); ++r) {
    st = CudaStatus(cudaSetDevice(devices[r]), "cudaSetDevice", __FILE__, __LINE__);  // the rank's side stream
    if (st.ok()) st = group[r]->CreateSideStream().WithContext(fmt::format("rank {}", r));
  }
  cudaSetDevice(current);
  if (!st.ok()) return st.WithContext(fmt::format("NCCL group of {} GPUs in this process", size));
  return group;
}

Status NcclCollective::CreateSideStream() {
  TANDEM_ASSIGN_OR_RETURN(side_, SideStream::Create(/*highest_priority=*/true));
  return Status::Ok();
}

NcclCollective::NcclCollective(ncclComm* comm, int rank, int size, cudaStream_t stream, NcclOptions options)
    : comm_(comm), rank_(rank), size_(size), stream_(stream), options_(options) {}

NcclCollective::~NcclCollective() {
  std::lock_guard lock(mu_);
  DropComm();
}

void NcclCollective::DropComm() {
  if (comm_ == nullptr) return;
  // Flush what was issued, then free. A group that cannot flush soon (a peer that died or
  // is shutting down too) is aborted instead: a process stopping does not wait on it.
  const auto flush = std::min<std::chrono::milliseconds>(options_.timeout, kFlushTimeout);
  const bool flushed =
      broken().ok() && NcclStatus(ncclCommFinalize(comm_), "ncclCommFinalize", comm_, __FILE__, __LINE__).ok() &&
      WaitReady(comm_, Clock::now() + flush, "ncclCommFinalize", flush).ok();
  if (flushed) {
    ncclCommDestroy(comm_);
  } else {
    AbortInBackground(comm_);
  }
  comm_ = nullptr;
}

Status NcclCollective::Usable(std::string_view what) const {
  std::lock_guard state(state_mu_);
  if (!broken_.ok()) {
    return Status::Unavailable("NCCL {} on rank {}: the group is broken and must be rebuilt from a new unique id ({})",
                               what, rank_, broken_.message());
  }
  return Status::Ok();
}

Status NcclCollective::Finish(std::string_view what, int result) {
  const auto code = static_cast<ncclResult_t>(result);
  if (code == ncclSuccess) return Status::Ok();
  Status st = NcclStatus(code, std::string(what).c_str(), comm_, __FILE__, __LINE__);
  // ncclInProgress: the enqueue is still setting up (e.g. a first connection to a peer).
  if (st.ok()) st = WaitReady(comm_, Clock::now() + options_.timeout, what, options_.timeout, &abort_requested_);
  if (st.ok()) return st;
  // A peer's or the network's failure may pass once the group is rebuilt; misuse will not.
  if (code == ncclRemoteError || code == ncclSystemError) st = Status::Unavailable("{}", st.message());
  return BreakLocked(st.WithContext(fmt::format("rank {} of {}", rank_, size_)));
}

Status NcclCollective::BreakLocked(Status error) {
  {
    std::lock_guard state(state_mu_);
    if (broken_.ok()) broken_ = error;
  }
  if (comm_ != nullptr) {
    AbortInBackground(comm_);
    comm_ = nullptr;
  }
  return error;
}

Status NcclCollective::AllReduceSum(float* data, int64_t n) {
  if (n < 0) return Status::Error("NCCL all-reduce: {} floats", n);
  std::lock_guard lock(mu_);
  TANDEM_TRY(Usable("all-reduce"));
  if (n == 0) return Status::Ok();
  return Finish("ncclAllReduce",
                ncclAllReduce(data, data, static_cast<size_t>(n), ncclFloat32, ncclSum, comm_, stream_));
}

Status NcclCollective::StartAllReduceSum(float* data, int64_t n) {
  if (n < 0) return Status::Error("NCCL all-reduce: {} floats", n);
  std::lock_guard lock(mu_);
  TANDEM_TRY(Usable("all-reduce"));
  if (pending_) return Status::Error("NCCL all-reduce started while another is pending: finish that one first");
  if (n == 0) return Status::Ok();
  TANDEM_TRY(side_->Fork(stream_));
  const Status st = Finish("ncclAllReduce", ncclAllReduce(data, data, static_cast<size_t>(n), ncclFloat32, ncclSum,
                                                          comm_, side_->stream()));
  // Joined back at Finish, or at once after a failure: a capture must not end with the
  // side stream still forked.
  if (!st.ok()) {
    TANDEM_TRY(side_->Join(stream_));
    return st;
  }
  pending_ = true;
  return st;
}

Status NcclCollective::FinishAllReduceSum() {
  std::lock_guard lock(mu_);
  if (!pending_) return Status::Ok();
  pending_ = false;
  return side_->Join(stream_);
}

Status NcclCollective::Broadcast(void* data, uint64_t bytes, int root) {
  if (root < 0 || root >= size_) return Status::Error("NCCL broadcast: root {} of {} ranks", root, size_);
  std::lock_guard lock(mu_);
  TANDEM_TRY(Usable("broadcast"));
  if (bytes == 0) return Status::Ok();
  return Finish("ncclBroadcast", ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_));
}

Status NcclCollective::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  if (static_cast<int>(counts.size()) != size_) {
    return Status::Error("NCCL gather: {} counts for a group of {} ranks", counts.size(), size_);
  }
  if (root < 0 || root >= size_) return Status::Error("NCCL gather: root {} of {} ranks", root, size_);
  for (int r = 0; r < size_; ++r) {
    if (counts[r] < 0) return Status::Error("NCCL gather: rank {} sends {} floats", r, counts[r]);
  }
  std::lock_guard lock(mu_);
  TANDEM_TRY(Usable("gather"));
  if (rank_ != root) {
    if (counts[rank_] == 0) return Status::Ok();
    return Finish("ncclSend",
                  ncclSend(send, static_cast<size_t>(counts[rank_]), ncclFloat32, root, comm_, stream_));
  }
  int64_t offset = 0;  // floats into recv
  for (int r = 0; r < rank_; ++r) offset += counts[r];
  if (counts[rank_] > 0 && send != recv + offset) {
    TANDEM_CUDA_TRY(cudaMemcpyAsync(recv + offset, send, static_cast<size_t>(counts[rank_]) * sizeof(float),
                                    cudaMemcpyDefault, stream_));
  }
  if (size_ == 1) return Status::Ok();
  // Every receive in one group, so NCCL runs them together; ncclGroupEnd is always
  // reached once ncclGroupStart was, whatever failed in between.
  TANDEM_TRY(Finish("ncclGroupStart", ncclGroupStart()));
  ncclResult_t first_error = ncclSuccess;
  const char* failed_call = nullptr;
  offset = 0;
  for (int r = 0; r < size_; ++r) {
    if (r != rank_ && counts[r] > 0 && first_error == ncclSuccess) {
      const ncclResult_t res = ncclRecv(recv + offset, static_cast<size_t>(counts[r]), ncclFloat32, r, comm_, stream_);
      if (res != ncclSuccess && res != ncclInProgress) {
        first_error = res;
        failed_call = "ncclRecv";
      }
    }
    offset += counts[r];
  }
  const ncclResult_t ended = ncclGroupEnd();
  if (first_error != ncclSuccess) return Finish(failed_call, first_error);  // breaks the group
  return Finish("ncclGroupEnd", ended);
}

Status NcclCollective::CheckHealth() {
  std::lock_guard lock(mu_);
  TANDEM_TRY(Usable("health check"));
  ncclResult_t state = ncclSuccess;
  Status st = NcclStatus(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError", comm_, __FILE__, __LINE__);
  if (st.ok()) st = NcclStatus(state, "NCCL's asynchronous error", comm_, __FILE__, __LINE__);
  if (st.ok()) return st;
  // A peer's failure: the group may work again once rebuilt.
  return BreakLocked(Status::Unavailable("NCCL group rank {} of {}: {}", rank_, size_, st.message()));
}

void NcclCollective::AbortWith(Status reason) {
  abort_requested_ = true;  // a call waiting out ncclInProgress gives up and releases mu_
  std::lock_guard lock(mu_);
  if (reason.ok()) reason = Status::Unavailable("NCCL group rank {} of {}: aborted", rank_, size_);
  static_cast<void>(BreakLocked(std::move(reason)));
}

void NcclCollective::Abort() {
  AbortWith(Status::Unavailable("NCCL group rank {} of {}: aborted (the group is being left)", rank_, size_));
}

Status NcclCollective::broken() const {
  std::lock_guard state(state_mu_);
  return broken_;
}

}  // namespace tandem
