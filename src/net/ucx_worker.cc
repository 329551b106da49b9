#include "net/ucx_worker.h"

#include <ucp/api/ucp.h>

#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace tandem {
namespace {

// Blob layout: "TUCX", u32 little-endian length of the UCX address, the UCX address.
constexpr char kMagic[4] = {'T', 'U', 'C', 'X'};
constexpr size_t kHeaderBytes = 8;

// Messages up to this many bytes travel eagerly (one trip through the transport's
// buffers) instead of by rendezvous (request, transfer, ack): the decode step's
// all-reduces are 8–32 KB. Over shared memory here, 3072 floats took 2.5 µs eagerly
// against 5.3 µs by rendezvous. UCX_RNDV_THRESH in the environment overrides it.
constexpr const char* kEagerUpToBytes = "65536";

std::vector<uint8_t> PackAddress(const void* ucx_address, size_t bytes) {
  std::vector<uint8_t> blob(kHeaderBytes + bytes);
  std::memcpy(blob.data(), kMagic, sizeof(kMagic));
  const auto length = static_cast<uint32_t>(bytes);
  for (int i = 0; i < 4; ++i) blob[4 + i] = static_cast<uint8_t>(length >> (8 * i));
  std::memcpy(blob.data() + kHeaderBytes, ucx_address, bytes);
  return blob;
}

Expected<ucp_context_h> CreateContext(const UcxOptions& options) {
  ucp_config_t* config = nullptr;
  ucs_status_t st = ucp_config_read(nullptr, nullptr, &config);
  if (st != UCS_OK) return Status::Error("UCX: reading its configuration (UCX_* variables): {}", ucs_status_string(st));
  if (std::getenv("UCX_RNDV_THRESH") == nullptr) st = ucp_config_modify(config, "RNDV_THRESH", kEagerUpToBytes);
  if (st != UCS_OK) {
    ucp_config_release(config);
    return Status::Error("UCX: RNDV_THRESH {} rejected: {}", kEagerUpToBytes, ucs_status_string(st));
  }
  if (!options.transports.empty()) st = ucp_config_modify(config, "TLS", options.transports.c_str());
  if (st != UCS_OK) {
    ucp_config_release(config);
    return Status::Error("UCX: transports '{}' rejected: {}; give a UCX_TLS list such as tcp,self or sm,self",
                         options.transports, ucs_status_string(st));
  }
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
  params.features = UCP_FEATURE_TAG;
  params.mt_workers_shared = 0;
  ucp_context_h context = nullptr;
  st = ucp_init(&params, config, &context);
  ucp_config_release(config);
  if (st != UCS_OK) {
    return Status::Error(
        "UCX: ucp_init failed: {} (transports '{}'; check UCX_TLS and that the listed transports exist here)",
        ucs_status_string(st), options.transports);
  }
  return context;
}

}  // namespace

Expected<std::unique_ptr<UcxWorker>> UcxWorker::Create(UcxOptions options) {
  TANDEM_ASSIGN_OR_RETURN(ucp_context_h context, CreateContext(options));
  ucp_worker_params_t params{};
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  params.thread_mode = UCS_THREAD_MODE_SINGLE;  // one thread drives a rank's collectives
  ucp_worker_h worker = nullptr;
  ucs_status_t st = ucp_worker_create(context, &params, &worker);
  if (st != UCS_OK) {
    ucp_cleanup(context);
    return Status::Error("UCX: ucp_worker_create failed: {}", ucs_status_string(st));
  }
  ucp_address_t* ucx_address = nullptr;
  size_t bytes = 0;
  st = ucp_worker_get_address(worker, &ucx_address, &bytes);
  if (st != UCS_OK) {
    ucp_worker_destroy(worker);
    ucp_cleanup(context);
    return Status::Error("UCX: ucp_worker_get_address failed: {}", ucs_status_string(st));
  }
  std::vector<uint8_t> blob = PackAddress(ucx_address, bytes);
  ucp_worker_release_address(worker, ucx_address);
  Log(Subsystem::kNet).debug("UCX worker created: address {} B, transports '{}'", blob.size(), options.transports);
  return std::unique_ptr<UcxWorker>(new UcxWorker(std::move(options), context, worker, std::move(blob)));
}

UcxWorker::UcxWorker(UcxOptions options, ucp_context* context, ucp_worker* worker, std::vector<uint8_t> address)
    : options_(std::move(options)), context_(context), worker_(worker), address_(std::move(address)) {}

UcxWorker::~UcxWorker() {
  ucp_worker_destroy(worker_);
  ucp_cleanup(context_);
}

Expected<std::span<const uint8_t>> UcxAddressInBlob(std::span<const uint8_t> blob) {
  if (blob.size() <= kHeaderBytes || std::memcmp(blob.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Error("a {} B blob is not a tandem UCX worker address (pass UcxWorker::address() unchanged)",
                         blob.size());
  }
  uint32_t length = 0;
  for (int i = 0; i < 4; ++i) length |= static_cast<uint32_t>(blob[4 + i]) << (8 * i);
  if (length != blob.size() - kHeaderBytes) {
    return Status::Error("a UCX worker address blob says {} B of address but holds {} B: it was truncated or altered",
                         length, blob.size() - kHeaderBytes);
  }
  return blob.subspan(kHeaderBytes);
}

}  // namespace tandem
