#include "engine/cuda_op_timer.h"

namespace tandem {

CudaOpTimer::~CudaOpTimer() {
  for (const Pending& p : pending_) {
    cudaEventDestroy(p.begin);
    cudaEventDestroy(p.end);
  }
  for (cudaEvent_t e : spare_) cudaEventDestroy(e);
}

void CudaOpTimer::Enable(bool on) {
  (void)Drain();
  on_ = on;
  totals_.Clear();
  error_ = Status::Ok();
}

cudaEvent_t CudaOpTimer::Take() {
  if (!spare_.empty()) {
    cudaEvent_t e = spare_.back();
    spare_.pop_back();
    return e;
  }
  cudaEvent_t e = nullptr;
  if (cudaError_t err = cudaEventCreate(&e); err != cudaSuccess && error_.ok()) {
    error_ = Status::Error("op timer: cudaEventCreate: {}", cudaGetErrorString(err));
  }
  return e;
}

Status CudaOpTimer::Drain() {
  for (const Pending& p : pending_) {
    float ms = 0;
    cudaError_t err = cudaEventSynchronize(p.end);
    if (err == cudaSuccess) err = cudaEventElapsedTime(&ms, p.begin, p.end);
    if (err != cudaSuccess && error_.ok()) {
      error_ = Status::Error("op timer: timing {}: {}", p.op, cudaGetErrorString(err));
    }
    totals_.Add(p.op, ms * 1e-3);
    spare_.push_back(p.begin);
    spare_.push_back(p.end);
  }
  pending_.clear();
  return error_;
}

Expected<std::vector<OpTime>> CudaOpTimer::Collect() {
  TANDEM_TRY(Drain());
  return totals_.List();
}

CudaOpTimer::Scope::Scope(CudaOpTimer& timer, cudaStream_t stream, std::string_view op, bool active)
    : stream_(stream), op_(op) {
  if (!timer.on_ || !active) return;
  begin_ = timer.Take();
  if (begin_ == nullptr || cudaEventRecord(begin_, stream) != cudaSuccess) return;
  timer_ = &timer;
}

CudaOpTimer::Scope::~Scope() {
  if (timer_ == nullptr) return;
  cudaEvent_t end = timer_->Take();
  if (end == nullptr || cudaEventRecord(end, stream_) != cudaSuccess) {
    timer_->spare_.push_back(begin_);
    return;
  }
  timer_->pending_.push_back({op_, begin_, end});
  if (timer_->pending_.size() >= kMaxPending) (void)timer_->Drain();
}

}  // namespace tandem
