#include "bench/decode/memory_roofline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/thread_pool.h"
#ifdef TANDEM_HAVE_CUDA
#include "kernels/cuda/bandwidth_probe.h"
#endif

namespace tandem::bench {
namespace {

// Sums every 8-byte word of `data` on `threads` threads; the median of 5 passes.
Roofline HostRead(int threads) {
  const size_t words = (size_t{512} << 20) / sizeof(uint64_t);
  std::vector<uint64_t> data(words, 1);
  ThreadPool pool(threads);
  std::atomic<uint64_t> sink{0};  // keeps the reads from being optimised away
  std::vector<double> seconds;
  for (int pass = 0; pass < 6; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    pool.ParallelFor(static_cast<int64_t>(words), [&](int64_t begin, int64_t end) {
      uint64_t s = 0;
      for (int64_t i = begin; i < end; ++i) s += data[static_cast<size_t>(i)];
      sink += s;
    });
    if (pass > 0) seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  Roofline r;
  r.gb_per_s = static_cast<double>(words * sizeof(uint64_t)) / seconds[seconds.size() / 2] / 1e9;
  r.what = fmt::format("host read, {} threads, 512 MiB", pool.size());
  return r;
}

}  // namespace

Expected<Roofline> MeasureRoofline(const std::string& backend, int threads) {
  if (backend == "cpu") return HostRead(threads);
#ifdef TANDEM_HAVE_CUDA
  if (backend == "cuda") {
    TANDEM_ASSIGN_OR_RETURN(BandwidthSample s, MeasureReadBandwidth(uint64_t{2} << 30, 10));
    return Roofline{s.gb_per_s, "GPU streaming read, 2 GiB"};
  }
#endif
  return Status::Error("no memory roofline for backend '{}' in this build", backend);
}

}  // namespace tandem::bench
