#include "coordinator/batch_scheduler.h"

#include <algorithm>

namespace tandem {

BatchScheduler::BatchScheduler(Session session) : session_(std::move(session)), driver_([this] { Drive(); }) {}

BatchScheduler::~BatchScheduler() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  driver_.join();
}

Expected<GenerateStats> BatchScheduler::Generate(SequenceRequest request) {
  auto ticket = std::make_shared<Ticket>();
  ticket->request = std::move(request);
  std::unique_lock lock(mu_);
  if (stopping_) return Status::Unavailable("the model is shutting down");
  queue_.push_back(ticket);
  work_.notify_all();
  done_.wait(lock, [&] { return ticket->finished; });
  if (!ticket->status.ok()) return ticket->status;
  return ticket->stats;
}

void BatchScheduler::Finish(const std::shared_ptr<Ticket>& ticket, Status status, const GenerateStats& stats) {
  {
    std::lock_guard lock(mu_);
    ticket->finished = true;
    ticket->status = std::move(status);
    ticket->stats = stats;
  }
  done_.notify_all();
}

void BatchScheduler::Drive() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
    }
    std::vector<std::shared_ptr<Ticket>> running;
    const Status st = session_([&](Engine& leader) { return Lead(leader, running); });
    if (st.ok()) continue;
    // The group failed: so do the requests in flight and those queued (the group may be
    // down for a while; their callers retry).
    std::deque<std::shared_ptr<Ticket>> queued;
    {
      std::lock_guard lock(mu_);
      queued.swap(queue_);
    }
    for (const auto& ticket : running) {
      if (!ticket->finished) Finish(ticket, st, {});
    }
    for (const auto& ticket : queued) Finish(ticket, st, {});
  }
}

Status BatchScheduler::Lead(Engine& leader, std::vector<std::shared_ptr<Ticket>>& running) {
  SequenceBatch batch(leader);
  for (;;) {
    std::vector<SequenceRequest> joining;
    bool more_waiting = false;
    {
      std::lock_guard lock(mu_);
      while (batch.accepts_joining() && !queue_.empty() &&
             batch.in_flight() + static_cast<int64_t>(joining.size()) < batch.capacity()) {
        std::shared_ptr<Ticket> ticket = queue_.front();
        queue_.pop_front();
        SequenceRequest request = std::move(ticket->request);
        request.on_done = [this, ticket](const GenerateStats& stats) { Finish(ticket, Status::Ok(), stats); };
        joining.push_back(std::move(request));
        running.push_back(std::move(ticket));
      }
      more_waiting = !queue_.empty();
    }
    if (joining.empty() && batch.in_flight() == 0) return Status::Ok();  // idle: the session ends
    TANDEM_TRY(batch.Lead(std::move(joining), more_waiting));
    std::erase_if(running, [](const auto& t) { return t->finished; });
  }
}

}  // namespace tandem
