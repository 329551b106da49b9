// Concurrent requests on one rank group, decoded together: each caller blocks in Generate
// while a driver thread admits its request, in arrival order, into the SequenceBatch it
// runs on the leader (engine/sequence_batch.h), up to the batch's capacity; the others
// wait in the queue for a free slot. The group is engaged (a session) while requests are
// in flight or queued, and released between bursts.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/status.h"
#include "engine/sequence_batch.h"

namespace tandem {

class BatchScheduler {
 public:
  // Runs lead(leader engine) on rank 0 while the other ranks follow (FollowLeader), and
  // returns the session's status (an error: the group failed); called on the driver thread.
  using Session = std::function<Status(const std::function<Status(Engine& leader)>& lead)>;

  explicit BatchScheduler(Session session);
  ~BatchScheduler();  // finishes the queued requests first
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Runs `request` (checked beforehand: CheckRequest) together with the others in flight;
  // returns when it ends. Thread-safe. A failed session fails every request in it, and
  // every request queued then, with its status.
  Expected<GenerateStats> Generate(SequenceRequest request);

 private:
  struct Ticket {
    SequenceRequest request;
    bool finished = false;
    Status status;
    GenerateStats stats;
  };

  void Drive();
  // One session: admits queued tickets while it runs; ends when nothing is in flight or queued.
  Status Lead(Engine& leader, std::vector<std::shared_ptr<Ticket>>& running);
  void Finish(const std::shared_ptr<Ticket>& ticket, Status status, const GenerateStats& stats);

  Session session_;
  std::mutex mu_;
  std::condition_variable work_;  // the driver: a request queued, or stopping
  std::condition_variable done_;  // callers: a ticket finished
  std::deque<std::shared_ptr<Ticket>> queue_;
  bool stopping_ = false;
  std::thread driver_;
};

}  // namespace tandem
