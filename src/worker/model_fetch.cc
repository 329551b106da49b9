#include "worker/model_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "model/gguf_model.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

std::string SidecarPath(const std::string& first_part) { return first_part + ".tandem-fetched"; }

Expected<std::vector<FileRange>> ReadSidecar(const std::string& first_part) {
  std::ifstream in(SidecarPath(first_part));
  if (!in) return Status::Error("{}: no list of fetched ranges", SidecarPath(first_part));
  std::vector<FileRange> ranges;
  FileRange r;
  while (in >> r.part >> r.offset >> r.bytes) ranges.push_back(r);
  MergeRanges(ranges);
  return ranges;
}

Status AppendSidecar(const std::string& first_part, const std::vector<FileRange>& ranges) {
  std::ofstream out(SidecarPath(first_part), std::ios::app);
  for (const FileRange& r : ranges) out << r.part << ' ' << r.offset << ' ' << r.bytes << '\n';
  out.flush();
  if (!out) return Status::Error("cannot write {}", SidecarPath(first_part));
  return Status::Ok();
}

// The part files of the copy, opened for writing.
class PartWriter {
 public:
  ~PartWriter() {
    for (int fd : fds_) close(fd);
  }
  Status Open(const std::string& path, uint64_t size) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0) return Status::Error("cannot create {}: {}", path, strerror(errno));
    fds_.push_back(fd);
    if (size > 0 && ftruncate(fd, static_cast<off_t>(size)) != 0) {
      return Status::Error("cannot size {} to {} bytes: {}", path, size, strerror(errno));
    }
    return Status::Ok();
  }
  Status Write(uint32_t part, uint64_t offset, const std::string& data) {
    if (part >= fds_.size()) return Status::Error("the coordinator sent part {} of a {}-part copy", part, fds_.size());
    for (size_t done = 0; done < data.size();) {
      const ssize_t n = pwrite(fds_[part], data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (n <= 0) return Status::Error("writing the model copy: {}", strerror(errno));
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

 private:
  std::vector<int> fds_;  // [parts]
};

// The part paths of the copy whose first part is `first`.
std::vector<std::string> PartPaths(const std::string& first, uint32_t count) {
  if (count <= 1) return {first};
  const SplitName split = ParseSplitName(first);
  std::vector<std::string> paths;
  for (uint32_t p = 0; p < count; ++p) paths.push_back(SplitPath(split.prefix, static_cast<int>(p) + 1, count));
  return paths;
}

}  // namespace

bool IsPartialCopy(const std::string& path) { return fs::exists(SidecarPath(path)); }

Expected<std::string> FetchModelHeaders(cluster::v1::ModelSource::Stub& source, const std::string& path) {
  grpc::ClientContext context;
  auto reader = source.FetchHeaders(&context, cluster::v1::FetchHeadersRequest{});
  cluster::v1::FileChunk chunk;
  std::string first = path;
  std::vector<FileRange> written;
  PartWriter writer;
  uint32_t opened = 0;
  while (reader->Read(&chunk)) {
    if (!chunk.part_name().empty()) {  // the first chunk of a part: create its file
      if (chunk.part() != opened) return Status::Error("the coordinator sent part {} out of order", chunk.part());
      std::string file = path;
      if (chunk.part_count() > 1) file = (fs::path(path).parent_path() / chunk.part_name()).string();
      if (chunk.part() == 0) {
        first = file;
        TANDEM_TRY(AppendSidecar(first, {}));  // the copy is partial from now on
      }
      TANDEM_TRY(writer.Open(file, chunk.part_bytes()));
      ++opened;
    }
    TANDEM_TRY(writer.Write(chunk.part(), chunk.offset(), chunk.data()));
    written.push_back({chunk.part(), chunk.offset(), chunk.data().size()});
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return Status::Error("fetching the model's headers: {}", st.error_message());
  if (opened == 0) return Status::Error("the coordinator sent no model headers");
  MergeRanges(written);
  TANDEM_TRY(AppendSidecar(first, written));
  return first;
}

Status FetchModelRanges(cluster::v1::ModelSource::Stub& source, const std::string& path,
                        const std::vector<FileRange>& want, const FetchProgress& progress) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<FileRange> have, ReadSidecar(path));
  const std::vector<FileRange> missing = MissingRanges(want, have);
  if (missing.empty()) return Status::Ok();
  cluster::v1::FetchRangesRequest request;
  uint32_t parts = 0;
  for (const FileRange& r : missing) {
    cluster::v1::FileRange* out = request.add_ranges();
    out->set_part(r.part);
    out->set_offset(r.offset);
    out->set_bytes(r.bytes);
    parts = std::max(parts, r.part + 1);
  }
  for (const FileRange& r : have) parts = std::max(parts, r.part + 1);
  PartWriter writer;
  for (const std::string& p : PartPaths(path, parts)) TANDEM_TRY(writer.Open(p, 0));
  grpc::ClientContext context;
  auto reader = source.FetchRanges(&context, request);
  cluster::v1::FileChunk chunk;
  uint64_t done = 0;
  while (reader->Read(&chunk)) {
    TANDEM_TRY(writer.Write(chunk.part(), chunk.offset(), chunk.data()));
    done += chunk.data().size();
    if (progress) progress(done, chunk.fetch_bytes());
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return Status::Error("fetching the shard's bytes: {}", st.error_message());
  return AppendSidecar(path, missing);
}

}  // namespace tandem
