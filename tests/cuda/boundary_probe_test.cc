// The boundary probe (kernels/cuda/boundary_probe.h): each structure (PDL kernels, the
// persistent kernel with grid barriers, the same with L2 prefetch) must read every phase
// of the step exactly once, in order: its checksum must equal one computed here on the
// host from the same buffer bytes (a structure that skips, repeats or misplaces a phase,
// or a block that misses part of one, fails). The layout must be what the config asked
// for, and bad configurations must be refused with a message. Small shapes: odd phase
// sizes (a single 16-byte word, tails past the four-loads-in-flight loop, a phase larger
// than one pass of the whole grid). Without a CUDA device the GPU cases skip.
#include "kernels/cuda/boundary_probe.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "kernels/cuda/bandwidth_probe.h"

namespace tandem {
namespace {

BoundaryConfig SmallConfig() {
  BoundaryConfig c;
  // 3 phases per layer: one 16-byte word; 3000 words + 3 (a tail past the 4-load loop);
  // ~5 MB (more than one pass of every resident thread on any current GPU).
  c.phase_bytes = {16, 16 * 3003, 16 * 312503};
  c.layers = 4;
  c.steps = 3;
  c.warmup = 2;
  c.seed = 7;
  return c;
}

// The step's checksum from the buffer's bytes, folded as boundary_probe.h documents.
uint64_t HostChecksum(const std::vector<uint8_t>& buffer, const std::vector<BoundaryPhaseSpan>& phases) {
  uint64_t checksum = 0xcbf29ce484222325ull;
  for (const BoundaryPhaseSpan& p : phases) {
    uint32_t x = 0;
    for (uint64_t o = p.offset; o < p.offset + p.bytes; o += 4) {
      uint32_t word = 0;
      std::memcpy(&word, buffer.data() + o, 4);
      x ^= word;
    }
    checksum = (checksum ^ x) * 0x100000001b3ull;
  }
  return checksum;
}

TEST(BoundaryProbe, EveryStructureReadsEveryPhaseOnce) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const BoundaryConfig config = SmallConfig();
  auto report = RunBoundaryProbe(config);
  ASSERT_TRUE(report.ok()) << report.status().message();

  // The layout: layers x phases, in step order, each span the bytes asked for, none overlapping.
  const size_t per_layer = config.phase_bytes.size();
  ASSERT_EQ(report->phases.size(), per_layer * config.layers);
  uint64_t end = 0, total = 0;
  for (size_t i = 0; i < report->phases.size(); ++i) {
    const BoundaryPhaseSpan& p = report->phases[i];
    EXPECT_EQ(p.bytes, config.phase_bytes[i % per_layer]) << "phase " << i;
    EXPECT_GE(p.offset, end) << "phase " << i << " overlaps the one before";
    EXPECT_EQ(p.offset % 16, 0u) << "phase " << i;
    end = p.offset + p.bytes;
    total += p.bytes;
  }
  EXPECT_LE(end, report->buffer_bytes);
  EXPECT_EQ(report->bytes_per_step, total);

  // The same bytes, filled the same way, folded on the host.
  void* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, report->buffer_bytes), cudaSuccess);
  std::vector<uint8_t> host(report->buffer_bytes);
  const Status filled = FillRandomBytes(device, report->buffer_bytes, config.seed, nullptr);
  ASSERT_TRUE(filled.ok()) << filled.message();
  ASSERT_EQ(cudaMemcpy(host.data(), device, host.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  cudaFree(device);
  const uint64_t want = HostChecksum(host, report->phases);

  // The checksum must notice a phase read twice in place of the next one, or skipped.
  std::vector<BoundaryPhaseSpan> repeated = report->phases, skipped = report->phases;
  repeated[5] = repeated[4];
  skipped.erase(skipped.begin() + 7);
  EXPECT_NE(HostChecksum(host, repeated), want);
  EXPECT_NE(HostChecksum(host, skipped), want);

  const std::vector<std::string> names = {"kernels", "persistent", "persistent+prefetch"};
  ASSERT_EQ(report->structures.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const BoundaryStructureResult& s = report->structures[i];
    EXPECT_EQ(s.name, names[i]);
    EXPECT_EQ(s.checksum, want) << s.name << " read other bytes than the step's phases";
    EXPECT_GT(s.us_per_step, 0) << s.name;
    EXPECT_LE(s.min_us_per_step, s.us_per_step) << s.name;
    EXPECT_GT(s.blocks, 0) << s.name;
    EXPECT_EQ(s.launches_per_step, s.name == "kernels" ? static_cast<int>(report->phases.size()) : 1);
  }
  EXPECT_EQ(report->roofline_gb_per_s, 0) << "roofline_bytes 0 measures none";
}

TEST(BoundaryProbe, RunsAgainWithOneLayerAndOnePhase) {
  SKIP_WITHOUT_CUDA_DEVICE();
  BoundaryConfig config;
  config.phase_bytes = {16 * 100};
  config.layers = 1;
  config.steps = 1;
  config.warmup = 1;
  auto report = RunBoundaryProbe(config);
  ASSERT_TRUE(report.ok()) << report.status().message();
  ASSERT_EQ(report->structures.size(), 3u);
  for (const BoundaryStructureResult& s : report->structures) {
    EXPECT_EQ(s.checksum, report->structures.front().checksum) << s.name;
  }
}

TEST(BoundaryProbe, RefusesBadConfigs) {
  auto refused = [](BoundaryConfig c, const std::string& want) {
    const Status st = ValidateBoundaryConfig(c);
    EXPECT_FALSE(st.ok()) << "accepted: " << want;
    EXPECT_NE(st.message().find(want), std::string::npos) << st.message();
    if (testing::NoDeviceReason().empty()) {  // the probe itself refuses before touching the GPU
      auto report = RunBoundaryProbe(c);
      EXPECT_FALSE(report.ok()) << want;
    }
  };
  BoundaryConfig c = SmallConfig();
  EXPECT_TRUE(ValidateBoundaryConfig(c).ok());
  c.phase_bytes = {};
  refused(c, "no phases");
  c = SmallConfig();
  c.phase_bytes = {16, 8};
  refused(c, "phase 2 is 8 bytes");
  c.phase_bytes = {24};
  refused(c, "multiple of 16");
  c = SmallConfig();
  c.layers = 0;
  refused(c, "0 layers");
  c = SmallConfig();
  c.steps = 0;
  refused(c, "timed steps");
  c = SmallConfig();
  c.warmup = 0;
  refused(c, "warm-up");
  c = SmallConfig();
  c.device = -1;
  refused(c, "device -1");
}

TEST(BoundaryProbe, RefusesAMissingDevice) {
  SKIP_WITHOUT_CUDA_DEVICE();
  BoundaryConfig c = SmallConfig();
  c.device = 1000;
  auto report = RunBoundaryProbe(c);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("does not exist"), std::string::npos) << report.status().message();
}

}  // namespace
}  // namespace tandem
