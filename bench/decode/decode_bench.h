// `tandem bench decode`: decode speed of a model on N ranks of this machine, one sequence
// (set against the bytes each token must read and the measured memory roofline) or
// several decoded together, with the time the ranks spend in collectives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "coordinator/local_collective.h"
#include "coordinator/shard_planner.h"
#include "engine/engine.h"

namespace tandem::bench {

struct DecodeBenchOptions {
  std::string model_path;  // a GGUF file (bench/decode/synthetic_spec.h makes one)
  EngineOptions engine;    // backend, context, threads
  int ranks = 1;
  MoeSplit moe_split = MoeSplit::kAuto;
  RankGpus gpus = RankGpus::kAuto;  // CUDA ranks: a GPU each or one shared
  int64_t depth = 0;       // context already in the KV cache when decode starts
  int64_t tokens = 64;     // decoded and timed, per sequence
  int64_t batch = 1;       // sequences decoded together (1..Engine::kMaxStepRows)
  bool profile = false;    // then also: rank 0's time per op (a further run, every step live)
  // > 0: one CUDA rank whose device all-reduces each take this long (bench/decode/emulated_link.h).
  int64_t emulate_link_ns = 0;
};

struct DecodeBenchResult {
  std::string arch;
  int64_t layers = 0;
  int ranks = 1;
  std::string backend;
  std::string collective;               // how the ranks meet (LocalCluster::collective_name)
  std::optional<bool> overlap_qk_norm;  // EngineOptions' (unset: the engine decides)
  int64_t emulate_link_ns = 0;
  int64_t depth = 0, tokens = 0, batch = 1;
  double decode_tok_s = 0;            // all sequences together
  double weight_bytes_per_token = 0;  // the slowest rank's, summed over layers
  double kv_bytes_per_token = 0;      // the slowest rank's KV reads at this depth
  double roofline_gb_s = 0;
  std::string roofline_what;
  double comm_us_per_token = 0;       // rank 0 inside collectives (waiting included)
  double collectives_per_token = 0;
  std::vector<OpTime> op_times;       // profile: rank 0's, per decoded token

  // A step decodes one token of every sequence.
  double ms_per_step() const { return decode_tok_s > 0 ? 1e3 * static_cast<double>(batch) / decode_tok_s : 0; }
  // Bytes read are known for one sequence only: a batch's steps read the experts its
  // tokens route to, which the bench does not count (0 for batch > 1).
  double achieved_gb_s() const {
    return batch == 1 ? (weight_bytes_per_token + kv_bytes_per_token) * decode_tok_s / 1e9 : 0;
  }
  double roofline_share() const { return roofline_gb_s > 0 ? achieved_gb_s() / roofline_gb_s : 0; }
};

Expected<DecodeBenchResult> RunDecodeBench(const DecodeBenchOptions& options);

std::string FormatDecodeResult(const DecodeBenchResult& r);
std::string DecodeCsvHeader();
std::string DecodeCsvRow(const DecodeBenchResult& r);

}  // namespace tandem::bench
