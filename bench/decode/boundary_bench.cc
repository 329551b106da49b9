#include "bench/decode/boundary_bench.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace tandem::bench {
namespace {

constexpr uint64_t kRooflineBytes = uint64_t{2} << 30;  // as bench decode's GPU roofline
constexpr int kWarmupSteps = 3;
constexpr const char* kPhasesExample = "e.g. --phases-mb 4.72,0.59,0.86";

std::string Trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// "4.72;0.59;..." (MB) of one layer's phases, as read.
std::string PhaseList(const BoundaryReport& r, size_t per_layer, const char* separator) {
  std::string out;
  for (size_t i = 0; i < per_layer && i < r.phases.size(); ++i) {
    out += fmt::format("{}{:g}", i == 0 ? "" : separator, static_cast<double>(r.phases[i].bytes) / 1e6);
  }
  return out;
}

}  // namespace

Expected<std::vector<uint64_t>> ParsePhasesMb(const std::string& list) {
  if (Trim(list).empty()) return Status::Error("--phases-mb is empty: give each phase's MB, {}", kPhasesExample);
  std::vector<uint64_t> bytes;
  std::istringstream in(list + ",");  // every entry ends in a comma: "1," gives no second entry, "1,," an empty one
  std::string entry;
  for (int i = 1; std::getline(in, entry, ','); ++i) {
    const std::string text = Trim(entry);
    if (text.empty()) {
      return Status::Error("--phases-mb '{}': phase {} is empty: give a size in MB for every phase, {}", list, i,
                           kPhasesExample);
    }
    char* end = nullptr;
    errno = 0;
    const double mb = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(mb)) {
      return Status::Error("--phases-mb '{}': phase {} ('{}') is not a number of MB, {}", list, i, text,
                           kPhasesExample);
    }
    if (mb <= 0) {
      return Status::Error("--phases-mb '{}': phase {} is {} MB: every phase must read more than 0 MB", list, i, text);
    }
    if (mb > 1e6) return Status::Error("--phases-mb '{}': phase {} is {} MB: more than any GPU holds", list, i, text);
    const uint64_t b = static_cast<uint64_t>(std::llround(mb * 1e6)) / 16 * 16;
    if (b < 16) {
      return Status::Error("--phases-mb '{}': phase {} is {} MB, under 16 bytes (the least a phase reads): give "
                           "at least 0.000016",
                           list, i, text);
    }
    bytes.push_back(b);
  }
  return bytes;
}

Expected<BoundaryConfig> BoundaryConfigOf(const BoundaryBenchOptions& o) {
  BoundaryConfig config;
  TANDEM_ASSIGN_OR_RETURN(config.phase_bytes, ParsePhasesMb(o.phases_mb));
  if (o.layers < 1) return Status::Error("--layers {}: the step needs at least 1 layer (default 48)", o.layers);
  if (static_cast<uint64_t>(o.layers) * config.phase_bytes.size() > uint64_t{1} << 20) {
    return Status::Error("--layers {} x {} phases: over 2^20 phases per step; give fewer layers", o.layers,
                         config.phase_bytes.size());
  }
  if (o.steps < 1) return Status::Error("--steps {}: time at least 1 step (default 50)", o.steps);
  if (o.device < 0) return Status::Error("--device {}: CUDA device ordinals start at 0", o.device);
  config.layers = o.layers;
  config.steps = o.steps;
  config.warmup = kWarmupSteps;
  config.device = o.device;
  config.roofline_bytes = kRooflineBytes;
  return config;
}

Expected<BoundaryReport> RunBoundaryBench(const BoundaryConfig& config) {
#ifdef TANDEM_HAVE_CUDA
  TANDEM_ASSIGN_OR_RETURN(BoundaryReport r, RunBoundaryProbe(config));
  for (const BoundaryStructureResult& s : r.structures) {
    if (s.checksum != r.structures.front().checksum) {
      return Status::Error("{} read other bytes than {} (checksum {:#018x} vs {:#018x}): the probe is broken; "
                           "boundary_probe_test says where",
                           s.name, r.structures.front().name, s.checksum, r.structures.front().checksum);
    }
  }
  return r;
#else
  (void)config;
  return Status::Error("needs CUDA, and this build has none: configure with nvcc present (TANDEM_CUDA=ON) and run "
                       "on a machine with a GPU");
#endif
}

double IdealUsPerStep(const BoundaryReport& r) {
  return r.roofline_gb_per_s > 0 ? static_cast<double>(r.bytes_per_step) / r.roofline_gb_per_s / 1e3 : 0;
}

double UsPerBoundary(const BoundaryReport& r, const BoundaryStructureResult& s) {
  return r.phases.empty() ? 0 : (s.us_per_step - IdealUsPerStep(r)) / static_cast<double>(r.phases.size());
}

std::string FormatBoundaryReport(const BoundaryReport& r, int layers, int steps, int warmup) {
  const size_t per_layer = layers > 0 ? r.phases.size() / static_cast<size_t>(layers) : 0;
  std::string out = fmt::format("tandem bench boundaries: {} (device {}, {} SMs, {:.0f} MB L2)\n", r.gpu, r.device,
                                r.sms, static_cast<double>(r.l2_bytes) / 1e6);
  out += fmt::format("step: {} layers x {} phases ({} MB) = {} dependent phases, {:.1f} MB read per step; median of "
                     "{} graph replays after {} warm-up\n",
                     layers, per_layer, PhaseList(r, per_layer, ", "), r.phases.size(),
                     static_cast<double>(r.bytes_per_step) / 1e6, steps, warmup);
  out += fmt::format("roofline: {:.0f} GB/s streaming read (2 GiB): the step's bytes alone take {:.1f} us\n",
                     r.roofline_gb_per_s, IdealUsPerStep(r));
  if (r.bytes_per_step < 4 * r.l2_bytes) {
    out += fmt::format("note: {:.1f} MB per step is under 4x the L2: some phases may still be in L2 from the last "
                       "step, so GB/s can exceed the roofline\n",
                       static_cast<double>(r.bytes_per_step) / 1e6);
  }
  out += fmt::format("{:<20} {:>6} {:>8} {:>10} {:>8} {:>9} {:>11}\n", "structure", "blocks", "launches", "us/step",
                     "GB/s", "%roofline", "us/boundary");
  for (const BoundaryStructureResult& s : r.structures) {
    const double gb_s = s.us_per_step > 0 ? static_cast<double>(r.bytes_per_step) / s.us_per_step / 1e3 : 0;
    out += fmt::format("{:<20} {:>6} {:>8} {:>10.1f} {:>8.0f} {:>8.1f}% {:>11.3f}\n", s.name, s.blocks,
                       s.launches_per_step, s.us_per_step, gb_s,
                       r.roofline_gb_per_s > 0 ? 100 * gb_s / r.roofline_gb_per_s : 0, UsPerBoundary(r, s));
  }
  out += fmt::format("all structures read the same bytes (checksum {:#018x}); us/boundary = (us/step - bytes at the "
                     "roofline) / {} phases\n",
                     r.structures.empty() ? 0 : r.structures.front().checksum, r.phases.size());
  return out;
}

std::string BoundaryCsv(const BoundaryReport& r, int layers) {
  const size_t per_layer = layers > 0 ? r.phases.size() / static_cast<size_t>(layers) : 0;
  std::string gpu = r.gpu;
  for (char& c : gpu) c = c == ',' ? ' ' : c;
  std::string csv =
      "gpu,structure,layers,phases_per_layer,phases_mb,bytes_per_step,blocks,launches_per_step,us_per_step,"
      "min_us_per_step,gb_per_s,roofline_gb_per_s,roofline_share,us_per_boundary\n";
  for (const BoundaryStructureResult& s : r.structures) {
    const double gb_s = s.us_per_step > 0 ? static_cast<double>(r.bytes_per_step) / s.us_per_step / 1e3 : 0;
    csv += fmt::format("{},{},{},{},{},{},{},{},{:.2f},{:.2f},{:.2f},{:.2f},{:.4f},{:.4f}\n", gpu, s.name, layers,
                       per_layer, PhaseList(r, per_layer, ";"), r.bytes_per_step, s.blocks, s.launches_per_step,
                       s.us_per_step, s.min_us_per_step, gb_s, r.roofline_gb_per_s,
                       r.roofline_gb_per_s > 0 ? gb_s / r.roofline_gb_per_s : 0, UsPerBoundary(r, s));
  }
  return csv;
}

}  // namespace tandem::bench
