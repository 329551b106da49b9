#include "model/model_report.h"

#include <fmt/ranges.h>

#include <map>

#include "common/progress.h"
#include "model/arch.h"
#include "model/token_bytes.h"

namespace tandem {
namespace {

void AppendTokenizer(const GgufMetadata& md, std::string& out) {
  auto model = md.GetString("tokenizer.ggml.model");
  if (!model.ok()) {
    out += "tokenizer:     none\n";
    return;
  }
  auto pre = md.GetString("tokenizer.ggml.pre");
  auto tokens = md.GetArray("tokenizer.ggml.tokens", GgufValueType::STRING);
  auto merges = md.GetArray("tokenizer.ggml.merges", GgufValueType::STRING);
  auto token_text = [&](std::string_view key) -> std::string {
    auto id = md.GetU32(key);
    if (!id.ok()) return "-";
    if (tokens.ok() && *id < (*tokens)->size()) return fmt::format("{} '{}'", *id, (*tokens)->strings[*id]);
    return fmt::format("{} (out of range)", *id);
  };
  auto tmpl = md.GetString("tokenizer.chat_template");
  out += fmt::format("tokenizer:     {} (pre {}), {} tokens, {} merges, bos {}, eos {}, chat template {}\n", *model,
                     pre.ok() ? *pre : "-", tokens.ok() ? (*tokens)->size() : 0,
                     merges.ok() ? (*merges)->size() : 0, token_text("tokenizer.ggml.bos_token_id"),
                     token_text("tokenizer.ggml.eos_token_id"),
                     tmpl.ok() ? fmt::format("{} bytes", tmpl->size()) : "none");
}

std::string Gib(uint64_t bytes) { return FormatBytes(static_cast<double>(bytes)); }

}  // namespace

std::string DescribeModel(const GgufModel& model, const ReportOptions& options) {
  const GgufMetadata& md = model.metadata();
  std::string out;
  out += fmt::format("file:          {} ({} part{}, {}, GGUF v{})\n", model.path(), model.part_count(),
                     model.part_count() == 1 ? "" : "s", Gib(model.file_bytes()), model.version());
  auto name = md.GetString("general.name");
  out += fmt::format("architecture:  {}{}\n", model.architecture().empty() ? "(none)" : model.architecture(),
                     name.ok() ? fmt::format("  \"{}\"", *name) : "");

  std::vector<GgufTensorInfo> infos;
  for (const Tensor& t : model.tensors()) infos.push_back(t.info);
  auto shape = ReadShape(md, 0);
  if (shape.ok()) {
    const ModelShape& s = *shape;
    out += fmt::format(
        "hparams:       {} layers, n_embd {}, heads {} q / {} kv x {} (rope {} dims, base {}), experts {} (top {}) "
        "x ffn {}, vocab {}, context {}, rms eps {}\n",
        s.n_layer, s.n_embd, s.n_head, s.n_head_kv, s.head_dim, s.n_rot, s.rope_freq_base, s.n_expert,
        s.n_expert_used, s.n_ff_exp, s.n_vocab, s.n_ctx_train, s.rms_eps);
  } else if (!model.tensors().empty()) {
    out += fmt::format("hparams:       not readable: {}\n", shape.status().message());
  }
  AppendTokenizer(md, out);

  std::map<std::string_view, std::pair<int, uint64_t>> by_type;
  uint64_t weight_bytes = 0;
  for (const auto& t : infos) {
    auto& entry = by_type[TypeName(t.type)];
    entry.first += 1;
    entry.second += t.nbytes;
    weight_bytes += t.nbytes;
  }
  out += fmt::format("tensors:       {} ({} of weights)\n", infos.size(), Gib(weight_bytes));
  for (const auto& [type, entry] : by_type) {
    out += fmt::format("  {:<8} {:>5} tensors {:>12}\n", type, entry.first, Gib(entry.second));
  }
  if (options.list_tensors) {
    for (const auto& t : infos) {
      out += fmt::format("  {:<36} {:<7} [{}] {}\n", t.name, TypeName(t.type), fmt::join(t.ne, ", "),
                         Gib(t.nbytes));
    }
  }
  if (options.list_metadata) {
    out += "metadata:\n";
    for (const auto& [key, value] : md.entries()) out += fmt::format("  {} = {}\n", key, value.Summary());
  }
  if (!shape.ok()) return out;

  TokenBytes b = ComputeTokenBytes(infos, shape->n_expert_used, shape->n_expert);
  out += fmt::format(
      "bytes per decoded token: {}\n  attention {}, router {}, experts (top {} of {}) {}, norms {}, embedding row {}, "
      "head {}\n",
      Gib(b.total()), Gib(b.attention), Gib(b.router), shape->n_expert_used, shape->n_expert, Gib(b.experts),
      Gib(b.norms), Gib(b.embedding), Gib(b.head));
  return out;
}

}  // namespace tandem
