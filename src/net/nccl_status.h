// ncclResult_t -> tandem::Status, naming the call, NCCL's message and where it was made.
// ncclInProgress is not an error: a non-blocking communicator is still working (see
// NcclCollective), and callers decide whether to wait for it.
#pragma once

#include <nccl.h>

#include "common/status.h"

namespace tandem {

// comm: the communicator the call used, or nullptr; its last error adds NCCL's detail
// ("peer 1 closed the connection", ...) to the generic text of `result`.
inline Status NcclStatus(ncclResult_t result, const char* call, ncclComm_t comm, const char* file, int line) {
  if (result == ncclSuccess || result == ncclInProgress) return Status::Ok();
  const char* detail = ncclGetLastError(comm);
  return Status::Error("{} failed: {} ({}){}{} at {}:{}", call, ncclGetErrorString(result), static_cast<int>(result),
                       detail != nullptr && detail[0] != '\0' ? ": " : "", detail != nullptr ? detail : "", file, line);
}

}  // namespace tandem

// Return a Status from the enclosing function if the NCCL call `expr` on `comm` failed.
#define TANDEM_NCCL_TRY(expr, comm)                                                         \
  do {                                                                                       \
    ::tandem::Status _nccl_st = ::tandem::NcclStatus((expr), #expr, (comm), __FILE__, __LINE__); \
    if (!_nccl_st.ok()) return _nccl_st;                                                     \
  } while (0)
