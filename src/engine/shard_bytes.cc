#include "engine/shard_bytes.h"

#include <algorithm>

namespace tandem {
namespace {

// Collects the byte ranges of weight views, as offsets into the model's parts.
class RangeCollector {
 public:
  explicit RangeCollector(const GgufModel& model) : model_(model) {}

  Status Add(const uint8_t* data, uint64_t bytes) {
    if (bytes == 0 || data == nullptr) return Status::Ok();
    for (size_t p = 0; p < model_.part_count(); ++p) {
      const auto file = model_.part(p).bytes();
      if (data >= file.data() && data + bytes <= file.data() + file.size()) {
        ranges_.push_back({static_cast<uint32_t>(p), static_cast<uint64_t>(data - file.data()), bytes});
        return Status::Ok();
      }
    }
    return Status::Error("a weight view lies outside the model's files");
  }
  Status Add(const WeightVector& v) { return Add(reinterpret_cast<const uint8_t*>(v.data), v.n * sizeof(float)); }
  Status Add(const WeightMatrix& w) {
    if (w.contiguous()) return Add(w.data, w.row_stride * static_cast<uint64_t>(w.rows));
    for (int64_t r = 0; r < w.rows; ++r) TANDEM_TRY(Add(w.row(r), w.row_bytes()));
    return Status::Ok();
  }
  Status Add(const ExpertMatrices& m) {
    for (int64_t e = 0; e < m.n_expert; ++e) TANDEM_TRY(Add(m.expert(e)));
    return Status::Ok();
  }

  std::vector<FileRange> Take() {
    MergeRanges(ranges_);
    return std::move(ranges_);
  }

 private:
  const GgufModel& model_;
  std::vector<FileRange> ranges_;
};

}  // namespace

void MergeRanges(std::vector<FileRange>& ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const FileRange& a, const FileRange& b) { return a.part != b.part ? a.part < b.part : a.offset < b.offset; });
  std::vector<FileRange> merged;
  for (const FileRange& r : ranges) {
    if (!merged.empty() && merged.back().part == r.part && r.offset <= merged.back().offset + merged.back().bytes) {
      FileRange& last = merged.back();
      last.bytes = std::max(last.offset + last.bytes, r.offset + r.bytes) - last.offset;
    } else {
      merged.push_back(r);
    }
  }
  ranges = std::move(merged);
}

std::vector<FileRange> MissingRanges(const std::vector<FileRange>& want, const std::vector<FileRange>& have) {
  std::vector<FileRange> missing;
  size_t h = 0;
  for (FileRange w : want) {
    // Skip what `have` covers from the start of w, then keep what lies before the next.
    while (h < have.size() && (have[h].part < w.part ||
                               (have[h].part == w.part && have[h].offset + have[h].bytes <= w.offset))) {
      ++h;
    }
    for (size_t i = h; w.bytes > 0; ++i) {
      if (i == have.size() || have[i].part != w.part || have[i].offset >= w.offset + w.bytes) {
        missing.push_back(w);
        break;
      }
      const FileRange& c = have[i];
      if (c.offset > w.offset) missing.push_back({w.part, w.offset, c.offset - w.offset});
      const uint64_t end = std::min(w.offset + w.bytes, c.offset + c.bytes);
      w.bytes = w.offset + w.bytes - end;
      w.offset = end;
    }
  }
  return missing;
}

Expected<std::vector<FileRange>> ShardFileRanges(const GgufModel& model, const ModelConfig& config,
                                                 const Shard& shard) {
  TANDEM_ASSIGN_OR_RETURN(ModelWeights full, ModelWeights::Bind(model, config));
  TANDEM_ASSIGN_OR_RETURN(ModelWeights w, SliceWeights(full, config, shard));
  RangeCollector c(model);
  for (size_t p = 0; p < model.part_count(); ++p) {
    TANDEM_TRY(c.Add(model.part(p).bytes().data(), model.part_data_offset(p)));  // the header
  }
  TANDEM_TRY(c.Add(w.token_embd));
  TANDEM_TRY(c.Add(w.output_norm));
  TANDEM_TRY(c.Add(w.output));
  for (const LayerWeights& l : w.layers) {
    for (const WeightVector* v : {&l.attn_norm, &l.q_norm, &l.k_norm, &l.ffn_norm, &l.expert_bias}) TANDEM_TRY(c.Add(*v));
    for (const WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.router}) TANDEM_TRY(c.Add(*m));
    for (const ExpertMatrices* m : {&l.gate_exps, &l.up_exps, &l.down_exps}) TANDEM_TRY(c.Add(*m));
  }
  return c.Take();
}

}  // namespace tandem
