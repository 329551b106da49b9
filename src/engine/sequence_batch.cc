#include "engine/sequence_batch.h"

#include <algorithm>
#include <type_traits>

namespace tandem {
namespace {

enum class BatchOp : int32_t { kIterate = 1, kShutdown = 2 };

// What the leader broadcasts first in each iteration (the same bytes on every rank: the
// ranks run one build on little-endian machines).
struct IterationHeader {
  BatchOp op = BatchOp::kIterate;
  int32_t n_joining = 0;
};
static_assert(std::is_trivially_copyable_v<IterationHeader>);

// Then, for each joining request, this and its prompt.
struct JoiningHeader {
  int32_t slot = 0;
  int32_t n_prompt = 0;
  int64_t synthetic_depth = 0;
  SamplingParams sampling;
};
static_assert(std::is_trivially_copyable_v<JoiningHeader>);

}  // namespace

SequenceBatch::SequenceBatch(Engine& engine, int64_t prefill_chunk)
    : engine_(engine),
      group_(engine.collective()),
      leader_(engine.collective().rank() == 0),
      prefill_chunk_(std::max<int64_t>(1, prefill_chunk)),
      slots_(static_cast<size_t>(engine.step_capacity())) {}

int64_t SequenceBatch::in_flight() const {
  return std::count_if(slots_.begin(), slots_.end(), [](const auto& s) { return s.has_value(); });
}

Status SequenceBatch::Lead(std::vector<SequenceRequest> joining, bool more_may_join) {
  if (static_cast<int64_t>(joining.size()) > capacity() - in_flight() || (!joining.empty() && !accepts_joining())) {
    return Status::Error("{} requests join a batch with {} of {} slots free{}", joining.size(), capacity() - in_flight(),
                         capacity(), accepts_joining() ? "" : " that announced no joining");
  }
  if (joining.empty() && in_flight() == 0) return Status::Ok();
  may_join_ = more_may_join;
  if (accepts_joining()) {
    IterationHeader header{BatchOp::kIterate, static_cast<int32_t>(joining.size())};
    TANDEM_TRY(group_.Broadcast(&header, sizeof(header), 0));
  }
  std::vector<std::pair<int64_t, SequenceRequest>> placed;
  int64_t slot = 0;
  for (SequenceRequest& r : joining) {
    while (slots_[slot].has_value() ||
           std::any_of(placed.begin(), placed.end(), [&](const auto& p) { return p.first == slot; })) {
      ++slot;
    }
    JoiningHeader h{static_cast<int32_t>(slot), static_cast<int32_t>(r.prompt.size()), r.synthetic_depth, r.sampling};
    TANDEM_TRY(group_.Broadcast(&h, sizeof(h), 0));
    TANDEM_TRY(group_.Broadcast(r.prompt.data(), r.prompt.size() * sizeof(int32_t), 0));
    placed.emplace_back(slot, std::move(r));
  }
  return Iterate(placed);
}

Status SequenceBatch::LeadToEnd(std::vector<SequenceRequest> joining) {
  TANDEM_TRY(Lead(std::move(joining)));
  while (in_flight() > 0) TANDEM_TRY(Lead({}));
  return Status::Ok();
}

Status SequenceBatch::LeadShutdown() {
  IterationHeader header{BatchOp::kShutdown, 0};
  return group_.Broadcast(&header, sizeof(header), 0);
}

Status SequenceBatch::Follow() {
  for (;;) {
    IterationHeader header;  // a decode step alone unless announced
    // Between requests (nothing in flight) the leader may stay quiet for any time.
    if (accepts_joining()) {
      TANDEM_TRY(in_flight() == 0 ? group_.AwaitBroadcast(&header, sizeof(header), 0)
                                  : group_.Broadcast(&header, sizeof(header), 0));
    }
    if (header.op == BatchOp::kShutdown) return Status::Ok();
    if (header.op != BatchOp::kIterate || header.n_joining < 0 || header.n_joining > capacity()) {
      return Status::Error("rank {}: unknown iteration from the leader (op {}, {} joining)", group_.rank(),
                           static_cast<int>(header.op), header.n_joining);
    }
    std::vector<std::pair<int64_t, SequenceRequest>> joining;
    for (int32_t i = 0; i < header.n_joining; ++i) {
      JoiningHeader h;
      TANDEM_TRY(group_.Broadcast(&h, sizeof(h), 0));
      if (h.slot < 0 || h.slot >= capacity() || h.n_prompt < 1) {
        return Status::Error("rank {}: a request for slot {} with {} prompt tokens from the leader", group_.rank(),
                             h.slot, h.n_prompt);
      }
      SequenceRequest r;
      r.prompt.resize(static_cast<size_t>(h.n_prompt));
      r.sampling = h.sampling;
      r.synthetic_depth = h.synthetic_depth;
      TANDEM_TRY(group_.Broadcast(r.prompt.data(), r.prompt.size() * sizeof(int32_t), 0));
      joining.emplace_back(h.slot, std::move(r));
    }
    if (Status st = Iterate(joining); !st.ok()) return st.WithContext(fmt::format("rank {}", group_.rank()));
  }
}

Status SequenceBatch::Iterate(std::vector<std::pair<int64_t, SequenceRequest>>& joining) {
  for (auto& [slot, request] : joining) {
    if (slots_[slot].has_value()) return Status::Error("slot {} is taken", slot);
    Sequence& s = slots_[slot].emplace();
    s.sampling = request.sampling;
    s.history = request.prompt;
    s.prompt_tokens = static_cast<int64_t>(request.prompt.size());
    if (leader_) {
      s.sampler = std::make_unique<Sampler>(request.sampling);
      s.stats.prompt_tokens = s.prompt_tokens;
      s.joined_at = Clock::now();
    }
    engine_.Reset(slot);
    if (request.synthetic_depth > 0) TANDEM_TRY(engine_.FillContext(request.synthetic_depth, slot));
    s.request = std::move(request);
  }
  // Prompts run a chunk per iteration, so a long one does not stall the others' decoding;
  // a prompt's last chunk gives its first token.
  for (int64_t slot = 0; slot < capacity(); ++slot) {
    if (!slots_[slot].has_value() || slots_[slot]->prompt_run == slots_[slot]->prompt_tokens) continue;
    Sequence& s = *slots_[slot];
    const int64_t n = std::min(prefill_chunk_, s.prompt_tokens - s.prompt_run);
    TANDEM_TRY(engine_.Step(std::span(s.history).subspan(s.prompt_run, n), slot));
    s.prompt_run += n;
    if (s.prompt_run < s.prompt_tokens) continue;
    if (leader_) {
      s.prefilled_at = Clock::now();
      s.stats.prefill_seconds = std::chrono::duration<double>(s.prefilled_at - s.joined_at).count();
    }
    TANDEM_TRY(SampleRows({slot}));
  }
  std::vector<int64_t> rows;
  std::vector<SeqToken> step;
  for (int64_t slot = 0; slot < capacity(); ++slot) {
    if (!slots_[slot].has_value() || slots_[slot]->prompt_run < slots_[slot]->prompt_tokens) continue;
    rows.push_back(slot);
    step.push_back({slot, slots_[slot]->next});
  }
  if (rows.empty()) return Status::Ok();
  if (leader_) {
    for (int64_t slot : rows) slots_[slot]->stats.widest_step = std::max<int64_t>(slots_[slot]->stats.widest_step, rows.size());
  }
  TANDEM_TRY(engine_.StepBatch(step));
  return SampleRows(rows);
}

// Every rank summarises each row of its vocabulary slice (penalised for the row's
// history); the leader gathers them in one message, samples each row, and broadcasts a
// word per row: {token, 1 when decided, 1 when the sequence goes on}, and whether the
// next iteration has a header. A row the summaries cannot decide exactly is sampled from
// its whole vocabulary, gathered on the leader.
Status SequenceBatch::SampleRows(const std::vector<int64_t>& slots) {
  const int64_t n = static_cast<int64_t>(slots.size());
  std::vector<int64_t> offset(static_cast<size_t>(n + 1), 0);  // floats
  for (int64_t r = 0; r < n; ++r) offset[r + 1] = offset[r] + PackedSummaryFloats(slots_[slots[r]]->sampling);
  const int64_t per_rank = offset[n];
  packed_.assign(static_cast<size_t>(per_rank), 0.0f);
  for (int64_t r = 0; r < n; ++r) {
    Sequence& s = *slots_[slots[r]];
    TANDEM_ASSIGN_OR_RETURN(SliceSummary mine, engine_.SummarizeLogits(s.sampling, s.history, r));
    PackSummary(mine, std::span(packed_).subspan(offset[r], offset[r + 1] - offset[r]));
  }
  if (leader_) all_packed_.resize(static_cast<size_t>(per_rank * group_.size()));
  const std::vector<int64_t> counts(static_cast<size_t>(group_.size()), per_rank);
  TANDEM_TRY(group_.Gather(packed_.data(), counts, all_packed_.data(), 0));

  words_.assign(static_cast<size_t>(3 * n + 1), 0);
  if (leader_) {
    words_[3 * n] = may_join_ ? 1 : 0;
    for (int64_t r = 0; r < n; ++r) {
      std::vector<SliceSummary> slices;
      for (int k = 0; k < group_.size(); ++k) {
        slices.push_back(UnpackSummary(
            std::span(all_packed_).subspan(k * per_rank + offset[r], offset[r + 1] - offset[r])));
      }
      Sequence& s = *slots_[slots[r]];
      if (std::optional<int32_t> token = s.sampler->SampleFromSummaries(slices)) Conclude(s, *token, &words_[3 * r]);
    }
  }
  TANDEM_TRY(group_.Broadcast(words_.data(), words_.size() * sizeof(int32_t), 0));
  header_due_ = words_[3 * n] != 0;
  for (int64_t r = 0; r < n; ++r) {
    int32_t* word = &words_[3 * r];
    if (word[1] != 0) continue;
    TANDEM_TRY(engine_.DownloadLogits(mine_, r));
    TANDEM_TRY(engine_.GatherLogits(mine_, 1, whole_));
    Sequence& s = *slots_[slots[r]];
    if (leader_) Conclude(s, s.sampler->SampleWhole(whole_), word);
    TANDEM_TRY(group_.Broadcast(word, 3 * sizeof(int32_t), 0));
  }
  for (int64_t r = 0; r < n; ++r) {
    const int32_t* word = &words_[3 * r];
    std::optional<Sequence>& slot = slots_[slots[r]];
    slot->history.push_back(word[0]);
    slot->next = word[0];
    if (word[2] != 0) continue;
    if (leader_) {
      slot->stats.decode_seconds = std::chrono::duration<double>(Clock::now() - slot->prefilled_at).count();
      if (slot->request.on_done) slot->request.on_done(slot->stats);
    }
    slot.reset();
  }
  return Status::Ok();
}

void SequenceBatch::Conclude(Sequence& s, int32_t token, int32_t word[3]) {
  const SequenceRequest& r = s.request;
  ++s.stats.generated_tokens;
  const bool end = std::find(r.eog.begin(), r.eog.end(), token) != r.eog.end();
  const bool more = r.on_token ? r.on_token(token) : true;
  if (end) s.stats.stopped_at_eog = true;
  word[0] = token;
  word[1] = 1;
  word[2] = !end && more && s.stats.generated_tokens < r.max_tokens;
}

}  // namespace tandem
