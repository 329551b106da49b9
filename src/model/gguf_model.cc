#include "model/gguf_model.h"

#include <fmt/ranges.h>

#include <regex>

#include "common/log.h"

namespace tandem {
namespace {

constexpr std::string_view kSplitNo = "split.no";
constexpr std::string_view kSplitCount = "split.count";
constexpr std::string_view kSplitTensors = "split.tensors.count";

struct Part {
  MappedFile file;
  GgufFile gguf;
};

Expected<Part> OpenPart(const std::string& path) {
  Part part;
  TANDEM_ASSIGN_OR_RETURN(part.file, MappedFile::Open(path));
  auto parsed = ParseGguf(part.file.bytes());
  if (!parsed.ok()) return parsed.status().WithContext(path);
  part.gguf = std::move(parsed).value();
  return part;
}

// split.no / split.count / split.tensors.count of a part, 0/1/own count when unsplit.
struct SplitKeys {
  uint64_t number = 0;
  uint64_t count = 1;
  uint64_t tensors = 0;
};

Expected<SplitKeys> ReadSplitKeys(const GgufFile& gguf, const std::string& path) {
  SplitKeys keys;
  keys.tensors = gguf.tensors.size();
  const GgufMetadata& md = gguf.metadata;
  if (!md.Has(kSplitCount)) return keys;
  auto count = md.GetUint(kSplitCount);
  auto number = md.GetUint(kSplitNo);
  auto tensors = md.GetUint(kSplitTensors);
  for (const Status* st : {&count.status(), &number.status(), &tensors.status()}) {
    if (!st->ok()) return st->WithContext(path);
  }
  keys = {*number, *count, *tensors};
  if (keys.count == 0 || keys.count > 9999 || keys.number >= keys.count) {
    return Status::Error("{}: split.no {} / split.count {} are inconsistent", path, keys.number, keys.count);
  }
  return keys;
}

}  // namespace

SplitName ParseSplitName(const std::string& path) {
  static const std::regex kPattern(R"((.*)-(\d{5})-of-(\d{5})\.gguf$)");
  std::smatch m;
  if (!std::regex_match(path, m, kPattern)) return {};
  return {m[1].str(), std::stoi(m[3].str()), std::stoi(m[2].str())};
}

std::string SplitPath(const std::string& prefix, int number, int count) {
  return fmt::format("{}-{:05d}-of-{:05d}.gguf", prefix, number, count);
}

Expected<GgufModel> GgufModel::Open(const std::string& path) {
  GgufModel model;
  model.path_ = path;
  TANDEM_ASSIGN_OR_RETURN(Part first, OpenPart(path));
  TANDEM_ASSIGN_OR_RETURN(SplitKeys split, ReadSplitKeys(first.gguf, path));
  std::vector<Part> parts;
  parts.push_back(std::move(first));
  if (split.count > 1) {
    SplitName name = ParseSplitName(path);
    if (split.number != 0) {
      return Status::Error("{} is part {} of a {}-part split model: open the first part{}", path, split.number + 1,
                           split.count,
                           name.count > 0 ? fmt::format(" ({})", SplitPath(name.prefix, 1, name.count)) : "");
    }
    if (name.count != static_cast<int>(split.count)) {
      return Status::Error("{} says split.count = {} but its name does not follow NAME-00001-of-{:05d}.gguf", path,
                           split.count, split.count);
    }
    for (int k = 2; k <= name.count; ++k) {
      std::string part_path = SplitPath(name.prefix, k, name.count);
      auto part = OpenPart(part_path);
      if (!part.ok()) return part.status().WithContext(fmt::format("split part {} of {}", k, name.count));
      TANDEM_ASSIGN_OR_RETURN(SplitKeys keys, ReadSplitKeys(part->gguf, part_path));
      if (keys.count != split.count || keys.number != static_cast<uint64_t>(k - 1) || keys.tensors != split.tensors) {
        return Status::Error(
            "{} does not belong with {}: it says part {} of {} with {} tensors in all, expected part {} of {} with {}",
            part_path, path, keys.number + 1, keys.count, keys.tensors, k, split.count, split.tensors);
      }
      parts.push_back(std::move(part).value());
    }
  }

  for (size_t p = 0; p < parts.size(); ++p) {
    const GgufFile& gguf = parts[p].gguf;
    for (const GgufTensorInfo& info : gguf.tensors) {
      const auto& type = TypeInfo(info.type);
      if (!type.supported) {
        std::vector<std::string_view> names;
        for (GgmlType t : SupportedTypes()) names.push_back(TypeName(t));
        return Status::Error("{}: unsupported tensor type {} in tensor '{}'; tandem reads {}: requantize the model",
                             parts[p].file.path(), type.name, info.name, fmt::join(names, ", "));
      }
      if (model.index_.count(info.name)) {
        return Status::Error("tensor '{}' appears in two split parts (second: {})", info.name, parts[p].file.path());
      }
      Tensor t;
      t.info = info;
      t.part = static_cast<int>(p);
      t.data = parts[p].file.bytes().data() + gguf.data_offset + info.offset;
      model.index_.emplace(info.name, model.tensors_.size());
      model.tensors_.push_back(std::move(t));
    }
  }
  if (split.count > 1 && model.tensors_.size() != split.tensors) {
    return Status::Error("split model {} declares {} tensors (split.tensors.count) but its {} parts hold {}", path,
                         split.tensors, split.count, model.tensors_.size());
  }
  model.version_ = parts[0].gguf.version;
  model.metadata_ = std::move(parts[0].gguf.metadata);
  for (Part& part : parts) {
    model.files_.push_back(std::move(part.file));
    model.data_offsets_.push_back(part.gguf.data_offset);
  }
  Log(Subsystem::kGguf)
      .debug("opened {}: {} parts, {} tensors, {} metadata keys", path, model.files_.size(), model.tensors_.size(),
             model.metadata_.entries().size());
  return model;
}

const Tensor* GgufModel::Find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Expected<const Tensor*> GgufModel::Get(std::string_view name) const {
  const Tensor* t = Find(name);
  if (t == nullptr) return Status::Error("tensor '{}' not found in {}", name, path_);
  return t;
}

uint64_t GgufModel::file_bytes() const {
  uint64_t total = 0;
  for (const auto& f : files_) total += f.bytes().size();
  return total;
}

std::string GgufModel::architecture() const {
  auto arch = metadata_.GetString("general.architecture");
  return arch.ok() ? *arch : "";
}

}  // namespace tandem
