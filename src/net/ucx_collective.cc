#include "net/ucx_collective.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "net/ucx_endpoints.h"
#include "net/ucx_tag.h"
#include "net/ucx_transfers.h"

namespace tandem {
namespace {

// What each rank sends every other in both wire-up rounds.
struct Hello {
  char magic[4];
  int32_t rank;
  int32_t size;
};
constexpr char kHelloMagic[4] = {'T', 'H', 'L', 'O'};

}  // namespace

UcxCollective::UcxCollective(std::unique_ptr<UcxWorker> worker, std::unique_ptr<UcxEndpoints> endpoints, int rank,
                             int size)
    : worker_(std::move(worker)),
      endpoints_(std::move(endpoints)),
      transfers_(std::make_unique<UcxTransfers>(worker_->handle(), 2 * (size - 1))),
      rank_(rank),
      size_(size),
      inputs_(static_cast<size_t>(size)) {}

// Every message of a finished collective was delivered already, so the flush only waits
// for peers that are still progressing; one that left first never answers it.
UcxCollective::~UcxCollective() {
  const auto flush = std::min<std::chrono::milliseconds>(worker_->options().timeout, std::chrono::milliseconds(500));
  endpoints_->Close(/*force=*/!broken_.ok(), std::chrono::steady_clock::now() + flush);
}

Expected<std::unique_ptr<UcxCollective>> UcxCollective::Connect(std::unique_ptr<UcxWorker> worker, int rank,
                                                                std::span<const std::vector<uint8_t>> addresses) {
  const int size = static_cast<int>(addresses.size());
  if (size < 1 || size > kUcxMaxRanks)
    return Status::Error("UCX group: {} addresses; give 1 to {}", size, kUcxMaxRanks);
  if (rank < 0 || rank >= size) return Status::Error("UCX group: rank {} outside a group of {}", rank, size);
  if (addresses[rank] != worker->address()) {
    return Status::Error(
        "UCX group: addresses[{}] is not this rank's worker address: pass every rank's address in rank order", rank);
  }
  TANDEM_ASSIGN_OR_RETURN(
      auto endpoints, UcxEndpoints::Create(worker->handle(), rank, addresses, worker->options().report_peer_failure));
  std::unique_ptr<UcxCollective> group(new UcxCollective(std::move(worker), std::move(endpoints), rank, size));
  const Status wired = group->WireUp();
  if (!wired.ok()) {
    const std::string& transports = group->worker_->options().transports;
    return group->Break(
        wired.WithContext(fmt::format("rank {}: UCX wire-up of {} ranks (transports '{}'); check that every rank runs, "
                                      "got the same address list, and shares a transport with this one",
                                      rank, size, transports.empty() ? "UCX default" : transports)));
  }
  Log(Subsystem::kNet).info("UCX group connected: rank {} of {}", rank, size);
  return group;
}

Status UcxCollective::WireUp() {
  const Hello mine{{kHelloMagic[0], kHelloMagic[1], kHelloMagic[2], kHelloMagic[3]}, rank_, size_};
  std::vector<Hello> theirs(static_cast<size_t>(size_));
  // Round 1 (hello): every peer's messages reach this rank. Round 2 (ready, sent once a
  // rank has every hello): every peer got this rank's hello too.
  for (UcxTagKind round : {UcxTagKind::kHello, UcxTagKind::kReady}) {
    for (int peer = 0; peer < size_; ++peer) {
      if (peer == rank_) continue;
      TANDEM_TRY(transfers_->PostRecv(peer, UcxTag(round, 0, peer), &theirs[peer], sizeof(Hello)));
      TANDEM_TRY(transfers_->PostSend(*endpoints_, peer, UcxTag(round, 0, rank_), &mine, sizeof(Hello)));
    }
    TANDEM_TRY(transfers_->Wait(*endpoints_, worker_->options().timeout, aborted_));
    for (int peer = 0; peer < size_; ++peer) {
      const Hello& h = theirs[peer];
      if (peer == rank_) continue;
      if (std::memcmp(h.magic, kHelloMagic, sizeof(kHelloMagic)) != 0 || h.rank != peer || h.size != size_) {
        return Status::Error("rank {} answered as rank {} of {}: the ranks were given different address lists", peer,
                             h.rank, h.size);
      }
    }
  }
  return Status::Ok();
}

Status UcxCollective::Begin(uint64_t& sequence) {
  if (!broken_.ok()) {
    return Status::Unavailable("rank {}: the UCX group failed earlier and must be reconnected ({})", rank_,
                               broken_.message());
  }
  sequence = next_sequence_++;
  return Status::Ok();
}

Status UcxCollective::Finish(std::string_view what, uint64_t sequence) {
  return Finish(what, sequence, worker_->options().timeout);
}

Status UcxCollective::Finish(std::string_view what, uint64_t sequence, std::chrono::milliseconds timeout) {
  Status done = transfers_->Wait(*endpoints_, timeout, aborted_);
  if (done.ok()) return done;
  return Break(done.WithContext(fmt::format("rank {}: {} #{}", rank_, what, sequence)));
}

Status UcxCollective::Break(Status error) {
  Log(Subsystem::kNet).warn("UCX group broken: {}", error.message());
  broken_ = error;
  transfers_->Abandon();
  endpoints_->Close(/*force=*/true, std::chrono::steady_clock::now() + worker_->options().timeout);
  return error;
}

Status UcxCollective::AllReduceSum(float* data, int64_t n) {
  uint64_t sequence = 0;
  TANDEM_TRY(Begin(sequence));
  if (n <= 0 || size_ == 1) return Status::Ok();
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    if (inputs_[peer].size() < static_cast<size_t>(n)) inputs_[peer].resize(static_cast<size_t>(n));
    const Status posted =
        transfers_->PostRecv(peer, UcxTag(UcxTagKind::kAllReduce, sequence, peer), inputs_[peer].data(), bytes);
    if (!posted.ok()) return Break(posted.WithContext(fmt::format("rank {}: allreduce #{}", rank_, sequence)));
  }
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    const Status posted =
        transfers_->PostSend(*endpoints_, peer, UcxTag(UcxTagKind::kAllReduce, sequence, rank_), data, bytes);
    if (!posted.ok()) return Break(posted.WithContext(fmt::format("rank {}: allreduce #{}", rank_, sequence)));
  }
  TANDEM_TRY(Finish("allreduce", sequence));
  // Sum in rank order from 0.0f, as every rank does (and as InProcessCollective does), so
  // all ranks hold the same bits. This rank's accumulator is its unused inputs_ slot;
  // the last rank's pass writes into data.
  std::vector<float>& sum = inputs_[rank_];
  if (sum.size() < static_cast<size_t>(n)) sum.resize(static_cast<size_t>(n));
  for (int r = 0; r < size_; ++r) {
    const float* in = r == rank_ ? data : inputs_[r].data();
    float* out = r == size_ - 1 ? data : sum.data();
    const float* acc = sum.data();
    if (r == 0) {
      for (int64_t i = 0; i < n; ++i) out[i] = 0.0f + in[i];
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = acc[i] + in[i];
    }
  }
  return Status::Ok();
}

Status UcxCollective::Broadcast(void* data, uint64_t bytes, int root) {
  return BroadcastWithin(data, bytes, root, worker_->options().timeout);
}

Status UcxCollective::AwaitBroadcast(void* data, uint64_t bytes, int root) {
  constexpr std::chrono::milliseconds kNoDeadline = std::chrono::hours(24 * 365);
  return BroadcastWithin(data, bytes, root, kNoDeadline);
}

Status UcxCollective::BroadcastWithin(void* data, uint64_t bytes, int root, std::chrono::milliseconds timeout) {
  if (root < 0 || root >= size_) return Status::Error("broadcast: root {} outside a group of {}", root, size_);
  uint64_t sequence = 0;
  TANDEM_TRY(Begin(sequence));
  if (bytes == 0 || size_ == 1) return Status::Ok();
  const uint64_t tag = UcxTag(UcxTagKind::kBroadcast, sequence, root);
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_ || (rank_ != root && peer != root)) continue;
    const Status posted = rank_ == root ? transfers_->PostSend(*endpoints_, peer, tag, data, bytes)
                                        : transfers_->PostRecv(peer, tag, data, bytes);
    if (!posted.ok()) return Break(posted.WithContext(fmt::format("rank {}: broadcast #{}", rank_, sequence)));
  }
  return Finish("broadcast", sequence, timeout);
}

Status UcxCollective::Gather(const float* send, std::span<const int64_t> counts, float* recv, int root) {
  if (static_cast<int>(counts.size()) != size_)
    return Status::Error("gather: {} counts for a group of {} ranks", counts.size(), size_);
  if (root < 0 || root >= size_) return Status::Error("gather: root {} outside a group of {}", root, size_);
  if (std::any_of(counts.begin(), counts.end(), [](int64_t c) { return c < 0; }))
    return Status::Error("gather: a negative count");
  uint64_t sequence = 0;
  TANDEM_TRY(Begin(sequence));
  if (rank_ != root) {
    if (counts[rank_] == 0) return Status::Ok();
    const Status posted = transfers_->PostSend(*endpoints_, root, UcxTag(UcxTagKind::kGather, sequence, rank_), send,
                                               static_cast<size_t>(counts[rank_]) * sizeof(float));
    if (!posted.ok()) return Break(posted.WithContext(fmt::format("rank {}: gather #{}", rank_, sequence)));
    return Finish("gather", sequence);
  }
  float* slot = recv;  // rank r's part starts after ranks 0..r-1's
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) {
      std::copy_n(send, counts[peer], slot);
    } else if (counts[peer] > 0) {
      const Status posted = transfers_->PostRecv(peer, UcxTag(UcxTagKind::kGather, sequence, peer), slot,
                                                 static_cast<size_t>(counts[peer]) * sizeof(float));
      if (!posted.ok()) return Break(posted.WithContext(fmt::format("rank {}: gather #{}", rank_, sequence)));
    }
    slot += counts[peer];
  }
  return Finish("gather", sequence);
}

}  // namespace tandem
