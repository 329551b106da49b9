// Writes a GGUF v3 file: metadata, tensor infos, then each tensor's bytes produced by a
// callback (so files larger than memory stream out one tensor at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/gguf_file.h"

namespace tandem {

class GgufWriter {
 public:
  // Writes tensor `index`'s bytes into dst (dst.size() == tensors()[index].nbytes).
  using FillFn = std::function<Status(size_t index, std::span<uint8_t> dst)>;

  explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);

  GgufMetadata& metadata() { return metadata_; }
  const GgufMetadata& metadata() const { return metadata_; }
  // Appends a tensor; its offset follows the previous one, aligned.
  void AddTensor(std::string name, std::vector<int64_t> ne, GgmlType type);
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  uint64_t file_bytes() const;

  // Writes PATH.partial, then renames it to PATH; shows progress when `progress`.
  Status WriteFile(const std::string& path, const FillFn& fill, bool progress) const;
  Expected<std::vector<uint8_t>> WriteMemory(const FillFn& fill) const;

  // Header, metadata and tensor infos, padded to the data section start.
  std::vector<uint8_t> EncodeHead() const;

 private:
  using SinkFn = std::function<Status(std::span<const uint8_t>)>;
  // head: EncodeHead(), computed once by the caller.
  Status Write(const std::vector<uint8_t>& head, const SinkFn& sink, const FillFn& fill,
               const std::function<void(uint64_t)>& on_bytes) const;

  uint32_t alignment_;
  GgufMetadata metadata_;
  std::vector<GgufTensorInfo> tensors_;
  uint64_t data_bytes_ = 0;  // data section size, last tensor padded
};

// Encodes one metadata value (type tag not included) — shared with tests that build
// hostile files by hand.
void EncodeGgufValue(const GgufValue& value, std::vector<uint8_t>& out);

}  // namespace tandem
