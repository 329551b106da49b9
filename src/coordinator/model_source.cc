#include "coordinator/model_source.h"

#include <algorithm>
#include <filesystem>

namespace tandem {
namespace {

constexpr uint64_t kChunkBytes = 1 << 20;

}  // namespace

bool ModelSource::Send(uint32_t part, uint64_t offset, uint64_t bytes, uint64_t fetch_bytes, bool first_of_part,
                       grpc::ServerContext* context, grpc::ServerWriter<cluster::v1::FileChunk>* writer) const {
  const auto file = model_.part(part).bytes();
  for (uint64_t done = 0; done < bytes || (first_of_part && done == 0); done += kChunkBytes) {
    if (context->IsCancelled()) return false;
    cluster::v1::FileChunk chunk;
    chunk.set_part(part);
    chunk.set_part_count(static_cast<uint32_t>(model_.part_count()));
    chunk.set_part_bytes(file.size());
    chunk.set_fetch_bytes(fetch_bytes);
    if (first_of_part && done == 0) {
      chunk.set_part_name(std::filesystem::path(model_.part(part).path()).filename().string());
    }
    const uint64_t n = std::min(kChunkBytes, bytes - done);
    chunk.set_offset(offset + done);
    chunk.set_data(file.data() + offset + done, n);
    if (!writer->Write(chunk)) return false;
    if (bytes == 0) break;
  }
  return true;
}

grpc::Status ModelSource::FetchHeaders(grpc::ServerContext* context, const cluster::v1::FetchHeadersRequest*,
                                       grpc::ServerWriter<cluster::v1::FileChunk>* writer) {
  uint64_t total = 0;
  for (size_t p = 0; p < model_.part_count(); ++p) total += model_.part_data_offset(p);
  for (size_t p = 0; p < model_.part_count(); ++p) {
    if (!Send(static_cast<uint32_t>(p), 0, model_.part_data_offset(p), total, true, context, writer)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the worker went away");
    }
  }
  return grpc::Status::OK;
}

grpc::Status ModelSource::FetchRanges(grpc::ServerContext* context, const cluster::v1::FetchRangesRequest* request,
                                      grpc::ServerWriter<cluster::v1::FileChunk>* writer) {
  uint64_t total = 0;
  for (const cluster::v1::FileRange& r : request->ranges()) {
    if (r.part() >= model_.part_count() || r.offset() + r.bytes() > model_.part(r.part()).bytes().size() ||
        r.offset() + r.bytes() < r.offset()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          fmt::format("range {}+{} of part {} is outside the model's files", r.offset(), r.bytes(),
                                      r.part()));
    }
    total += r.bytes();
  }
  for (const cluster::v1::FileRange& r : request->ranges()) {
    if (!Send(r.part(), r.offset(), r.bytes(), total, false, context, writer)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the worker went away");
    }
  }
  return grpc::Status::OK;
}

}  // namespace tandem
