#include "model/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "common/progress.h"

namespace tandem {
namespace {

template <typename T>
void Put(std::vector<uint8_t>& out, T v) {
  size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void PutString(std::vector<uint8_t>& out, const std::string& s) {
  Put<uint64_t>(out, s.size());
  size_t at = out.size();
  out.resize(at + s.size());
  if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
}

void PutScalar(std::vector<uint8_t>& out, GgufValueType type, uint64_t u, int64_t i, double f) {
  switch (type) {
    case GgufValueType::UINT8:
    case GgufValueType::BOOL:
      Put<uint8_t>(out, static_cast<uint8_t>(u));
      break;
    case GgufValueType::INT8:
      Put<int8_t>(out, static_cast<int8_t>(i));
      break;
    case GgufValueType::UINT16:
      Put<uint16_t>(out, static_cast<uint16_t>(u));
      break;
    case GgufValueType::INT16:
      Put<int16_t>(out, static_cast<int16_t>(i));
      break;
    case GgufValueType::UINT32:
      Put<uint32_t>(out, static_cast<uint32_t>(u));
      break;
    case GgufValueType::INT32:
      Put<int32_t>(out, static_cast<int32_t>(i));
      break;
    case GgufValueType::UINT64:
      Put<uint64_t>(out, u);
      break;
    case GgufValueType::INT64:
      Put<int64_t>(out, i);
      break;
    case GgufValueType::FLOAT32:
      Put<float>(out, static_cast<float>(f));
      break;
    case GgufValueType::FLOAT64:
      Put<double>(out, f);
      break;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY:
      break;  // not scalars
  }
}

void EncodeArray(const GgufArray& a, std::vector<uint8_t>& out) {
  Put<uint32_t>(out, static_cast<uint32_t>(a.elem_type));
  Put<uint64_t>(out, a.size());
  if (IsUnsignedType(a.elem_type)) {
    for (uint64_t u : a.uints) PutScalar(out, a.elem_type, u, 0, 0);
  } else if (IsSignedType(a.elem_type)) {
    for (int64_t i : a.ints) PutScalar(out, a.elem_type, 0, i, 0);
  } else if (IsFloatType(a.elem_type)) {
    for (double f : a.floats) PutScalar(out, a.elem_type, 0, 0, f);
  } else if (a.elem_type == GgufValueType::STRING) {
    for (const auto& s : a.strings) PutString(out, s);
  } else {
    for (const auto& nested : a.arrays) EncodeArray(nested, out);
  }
}

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

void EncodeGgufValue(const GgufValue& value, std::vector<uint8_t>& out) {
  if (value.type == GgufValueType::STRING) {
    PutString(out, value.s);
  } else if (value.type == GgufValueType::ARRAY) {
    EncodeArray(value.array, out);
  } else {
    PutScalar(out, value.type, value.u, value.i, value.f);
  }
}

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment_ != kGgufDefaultAlignment) metadata_.Set("general.alignment", GgufValue::U32(alignment_));
}

void GgufWriter::AddTensor(std::string name, std::vector<int64_t> ne, GgmlType type) {
  GgufTensorInfo t;
  t.name = std::move(name);
  t.ne = std::move(ne);
  t.type = type;
  t.n_elements = 1;
  for (int64_t d : t.ne) t.n_elements *= d;
  t.nbytes = static_cast<uint64_t>(t.n_elements) / TypeInfo(type).block_size * TypeInfo(type).block_bytes;
  t.offset = data_bytes_;
  data_bytes_ = AlignUp(t.offset + t.nbytes, alignment_);
  tensors_.push_back(std::move(t));
}

std::vector<uint8_t> GgufWriter::EncodeHead() const {
  std::vector<uint8_t> out;
  Put<uint32_t>(out, 0x46554747u);  // "GGUF" read as little-endian
  Put<uint32_t>(out, 3);
  Put<uint64_t>(out, tensors_.size());
  Put<uint64_t>(out, metadata_.entries().size());
  for (const auto& [key, value] : metadata_.entries()) {
    PutString(out, key);
    Put<uint32_t>(out, static_cast<uint32_t>(value.type));
    EncodeGgufValue(value, out);
  }
  for (const auto& t : tensors_) {
    PutString(out, t.name);
    Put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) Put<uint64_t>(out, static_cast<uint64_t>(d));
    Put<uint32_t>(out, static_cast<uint32_t>(t.type));
    Put<uint64_t>(out, t.offset);
  }
  out.resize(AlignUp(out.size(), alignment_), 0);
  return out;
}

uint64_t GgufWriter::file_bytes() const { return EncodeHead().size() + data_bytes_; }

Status GgufWriter::Write(const std::vector<uint8_t>& head, const SinkFn& sink, const FillFn& fill,
                         const std::function<void(uint64_t)>& on_bytes) const {
  TANDEM_TRY(sink(head));
  on_bytes(head.size());
  uint64_t largest = 0;
  for (const auto& t : tensors_) largest = std::max(largest, AlignUp(t.nbytes, alignment_));
  std::vector<uint8_t> buffer(largest);
  for (size_t k = 0; k < tensors_.size(); ++k) {
    const GgufTensorInfo& t = tensors_[k];
    uint64_t padded = (k + 1 < tensors_.size() ? tensors_[k + 1].offset : data_bytes_) - t.offset;
    std::span<uint8_t> dst(buffer.data(), t.nbytes);
    TANDEM_TRY(fill(k, dst).WithContext(fmt::format("tensor '{}'", t.name)));
    std::memset(buffer.data() + t.nbytes, 0, padded - t.nbytes);
    TANDEM_TRY(sink(std::span<const uint8_t>(buffer.data(), padded)));
    on_bytes(padded);
  }
  return Status::Ok();
}

Status GgufWriter::WriteFile(const std::string& path, const FillFn& fill, bool progress) const {
  std::string partial = path + ".partial";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(partial.c_str(), "wb"), &std::fclose);
  if (!f) return Status::Error("cannot create {}: {}", partial, std::strerror(errno));
  std::unique_ptr<Progress> bar;
  const std::vector<uint8_t> head = EncodeHead();
  if (progress) bar = std::make_unique<Progress>("writing " + path, head.size() + data_bytes_);
  Status st = Write(
      head,
      [&](std::span<const uint8_t> bytes) {
        if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
          return Status::Error("writing {}: {}", partial, std::strerror(errno));
        }
        return Status::Ok();
      },
      fill, [&](uint64_t n) {
        if (bar) bar->Add(n);
      });
  if (st.ok() && std::fflush(f.get()) != 0) st = Status::Error("writing {}: {}", partial, std::strerror(errno));
  f.reset();
  if (!st.ok()) {
    std::remove(partial.c_str());
    return st;
  }
  if (bar) bar->Finish();
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    return Status::Error("cannot rename {} to {}: {}", partial, path, std::strerror(errno));
  }
  return Status::Ok();
}

Expected<std::vector<uint8_t>> GgufWriter::WriteMemory(const FillFn& fill) const {
  std::vector<uint8_t> out;
  TANDEM_TRY(Write(
      EncodeHead(),
      [&](std::span<const uint8_t> bytes) {
        out.insert(out.end(), bytes.begin(), bytes.end());
        return Status::Ok();
      },
      fill, [](uint64_t) {}));
  return out;
}

}  // namespace tandem
