// Serves the coordinator's mapped model file to workers that have no copy
// (cluster.proto ModelSource): each part's header, then any byte ranges, in chunks of
// at most 1 MiB.
#pragma once

#include "cluster.grpc.pb.h"
#include "model/gguf_model.h"

namespace tandem {

class ModelSource final : public cluster::v1::ModelSource::Service {
 public:
  explicit ModelSource(const GgufModel& model) : model_(model) {}

  grpc::Status FetchHeaders(grpc::ServerContext* context, const cluster::v1::FetchHeadersRequest* request,
                            grpc::ServerWriter<cluster::v1::FileChunk>* writer) override;
  grpc::Status FetchRanges(grpc::ServerContext* context, const cluster::v1::FetchRangesRequest* request,
                           grpc::ServerWriter<cluster::v1::FileChunk>* writer) override;

 private:
  // Streams [offset, offset + bytes) of part `part`; false when the client went away.
  bool Send(uint32_t part, uint64_t offset, uint64_t bytes, uint64_t fetch_bytes, bool first_of_part,
            grpc::ServerContext* context, grpc::ServerWriter<cluster::v1::FileChunk>* writer) const;

  const GgufModel& model_;
};

}  // namespace tandem
