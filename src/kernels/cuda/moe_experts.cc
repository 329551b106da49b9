#include "kernels/cuda/moe_experts.h"

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/moe_experts_launch.h"
#include "kernels/cuda/quant_matvec.h"

namespace tandem {

Status MoeExpertsForward(const MoeExpertsArgs& a, cudaStream_t stream) {
  if (a.n_tokens < 1 || a.n_tokens > kMoeMaxTokens || a.k < 1) {
    return Status::Error("MoE experts: {} tokens of {} experts each (need 1..{} tokens)", a.n_tokens, a.k,
                         kMoeMaxTokens);
  }
  const int64_t n_ff = a.gate.rows, n_embd = a.gate.cols;
  if (a.up.rows != n_ff || a.up.cols != n_embd || a.down.rows != n_embd || a.down.cols != n_ff) {
    return Status::Error("MoE experts: gate [{}, {}], up [{}, {}] and down [{}, {}] do not fit one FFN", a.gate.rows,
                         a.gate.cols, a.up.rows, a.up.cols, a.down.rows, a.down.cols);
  }
  const int64_t pairs = a.n_tokens * a.k;
  ExpertProducts products;
  products.ids = a.ids;
  products.n_pairs = pairs;
  products.expert_begin = a.expert_begin;
  products.n_expert = a.n_expert;
  auto run = [&](const ExpertWeights& w, const float* x, int64_t pairs_per_x, float* y, const char* what) -> Status {
    products.pairs_per_x = pairs_per_x;
    products.expert_stride = w.expert_stride;
    const Status st = QuantMatMulExperts(w.type, w.data, w.rows, w.cols, w.row_stride, products, x, y, stream, a.rounding);
    return st.ok() ? st : st.WithContext(what);
  };
  // Gate and up of one layout run as one launch; the down product applies SwiGLU to them
  // as it reads them.
  if (a.gate.type == a.up.type && a.gate.row_stride == a.up.row_stride && a.gate.expert_stride == a.up.expert_stride) {
    products.w_second = a.up.data;
    products.y_second = a.up_buf;
    TANDEM_TRY(run(a.gate, a.x, a.k, a.gate_buf, "MoE gate and up"));
    products.w_second = nullptr;
    products.y_second = nullptr;
  } else {
    TANDEM_TRY(run(a.gate, a.x, a.k, a.gate_buf, "MoE gate"));
    TANDEM_TRY(run(a.up, a.x, a.k, a.up_buf, "MoE up"));
  }
  products.x_up = a.up_buf;
  TANDEM_TRY(run(a.down, a.gate_buf, 1, a.down_buf, "MoE down"));
  TANDEM_CUDA_TRY(cuda_detail::LaunchMoeWeightedSum(a.down_buf, a.ids, a.weights, a.n_tokens, a.k, n_embd,
                                                    a.expert_begin, a.n_expert, a.out, stream));
  return Status::Ok();
}

}  // namespace tandem
