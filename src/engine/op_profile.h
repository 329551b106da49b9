// Time spent in a backend's ops, summed by op name (tandem bench decode --profile), and
// the host-clock timer of the CPU backend, whose ops finish before they return.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

struct OpTime {
  std::string op;        // embed, rms_norm, matmul, attention, moe_experts, ...
  double seconds = 0;    // summed over calls
  int64_t calls = 0;
};

// Sums op times by name while enabled; an op called inside another counts as part of it.
class OpTotals {
 public:
  void Add(std::string_view op, double seconds) {
    auto it = totals_.find(op);
    if (it == totals_.end()) it = totals_.emplace(std::string(op), OpTime{std::string(op)}).first;
    it->second.seconds += seconds;
    ++it->second.calls;
  }
  void Clear() { totals_.clear(); }
  std::vector<OpTime> List() const {
    std::vector<OpTime> out;
    for (const auto& [name, t] : totals_) out.push_back(t);
    return out;
  }

 private:
  std::map<std::string, OpTime, std::less<>> totals_;
};

class HostOpClock {
 public:
  void Enable(bool on) {
    on_ = on;
    totals_.Clear();
  }
  std::vector<OpTime> List() const { return totals_.List(); }

  class Scope {
   public:
    Scope(HostOpClock& clock, std::string_view op) : clock_(clock), op_(op), outer_(clock.depth_++ == 0) {
      if (clock_.on_ && outer_) start_ = std::chrono::steady_clock::now();
    }
    ~Scope() {
      --clock_.depth_;
      if (!clock_.on_ || !outer_) return;
      clock_.totals_.Add(op_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    HostOpClock& clock_;
    std::string_view op_;
    bool outer_;
    std::chrono::steady_clock::time_point start_;
  };

 private:
  bool on_ = false;
  int depth_ = 0;
  OpTotals totals_;
};

}  // namespace tandem
