// A GGUF model opened in place: one file, or all parts of a split model given the
// first (`NAME-00001-of-0000N.gguf`). Tensor data is read through the file maps.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/mapped_file.h"
#include "common/status.h"
#include "model/gguf_file.h"

namespace tandem {

struct Tensor {
  GgufTensorInfo info;
  int part = 0;                   // index of the split file holding it
  const uint8_t* data = nullptr;  // info.nbytes mapped bytes

  const std::string& name() const { return info.name; }
  GgmlType type() const { return info.type; }
  int64_t ne(size_t d) const { return d < info.ne.size() ? info.ne[d] : 1; }
};

class GgufModel {
 public:
  // Opens, maps and validates the file (and its other parts when split). Tensor types
  // outside SupportedTypes() are rejected here.
  static Expected<GgufModel> Open(const std::string& path);

  const std::string& path() const { return path_; }
  const GgufMetadata& metadata() const { return metadata_; }  // of the first part
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* Find(std::string_view name) const;
  Expected<const Tensor*> Get(std::string_view name) const;  // error names the tensor and file
  size_t part_count() const { return files_.size(); }
  // Part p's file as mapped, and where its tensor data begins (the header is before).
  const MappedFile& part(size_t p) const { return files_[p]; }
  uint64_t part_data_offset(size_t p) const { return data_offsets_[p]; }
  uint64_t file_bytes() const;  // all parts
  uint32_t version() const { return version_; }
  // general.architecture, or "" when absent.
  std::string architecture() const;

 private:
  std::string path_;
  uint32_t version_ = 3;
  std::vector<MappedFile> files_;
  std::vector<uint64_t> data_offsets_;  // [parts]
  GgufMetadata metadata_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

// "m-00001-of-00003.gguf" -> {"m", 3}; a name without the pattern -> {"", 0}.
struct SplitName {
  std::string prefix;
  int count = 0;
  int number = 0;  // 1-based
};
SplitName ParseSplitName(const std::string& path);
std::string SplitPath(const std::string& prefix, int number, int count);

}  // namespace tandem
