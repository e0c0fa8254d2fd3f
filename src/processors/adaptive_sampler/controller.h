// The adaptive sampler's control loop, apart from any data: per key, count what arrives;
// every adjustment interval, smooth the input rate (EWMA) and set the key's probability to
// goal / smoothed rate, clamped to [min, max]. Time is passed in, so tests drive it with a
// simulated clock and synthetic arrivals.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "processors/consistent_sampling/threshold.h"

namespace otlpd {

class AdaptiveController {
 public:
  struct Options {
    double goal_per_second = 1000;
    int64_t interval_ns = 10'000'000'000;
    double smoothing = 0.5;
    double min_probability = 1e-4;
    double max_probability = 1;
    double initial_probability = 1;
    int precision = consistent_sampling::kDefaultPrecision;
    size_t max_keys = 1000;
  };

  // One key's state. Counting and reading the probability need no lock.
  class Key {
   public:
    const std::string& name() const { return name_; }
    void Count(uint64_t n) { arrived_.fetch_add(n, std::memory_order_relaxed); }
    double probability() const { return probability_.load(std::memory_order_relaxed); }
    // The proportional stage for the current probability.
    consistent_sampling::Stage stage() const;

   private:
    friend class AdaptiveController;
    std::string name_;
    std::atomic<uint64_t> arrived_{0};
    std::atomic<double> probability_{1};
    int precision_ = consistent_sampling::kDefaultPrecision;
    double smoothed_rate_ = 0;  // under the controller's mutex
    bool measured_ = false;
  };

  // The name of the key shared by those past max_keys.
  static constexpr std::string_view kOverflowKey = "_other";

  AdaptiveController(Options options, int64_t now_ns);

  // The key's state, created on first sight (past max_keys: the overflow key's). Stable
  // for the controller's life. `created` (optional) tells whether it was new.
  std::shared_ptr<Key> Find(std::string_view name, bool* created = nullptr);

  // Adjusts every key when an interval has passed since the last adjustment (else nothing).
  // Returns whether it adjusted.
  bool MaybeAdjust(int64_t now_ns);

  std::vector<std::shared_ptr<Key>> Keys() const;
  const Options& options() const { return options_; }

 private:
  void AdjustLocked(int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  std::atomic<int64_t> next_adjust_ns_;
  mutable absl::Mutex mu_;
  int64_t last_adjust_ns_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<Key>> keys_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Key> overflow_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otlpd
