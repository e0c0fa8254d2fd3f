#pragma once

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace otlpd {

// Lets a message through at most once per `period`, counting what it held back, so that
// an overload (every request refused) does not turn into a flood of identical log lines.
//
//   if (uint64_t n = throttle_.Add(items)) spdlog::warn("refused {} items ...", n);
class LogThrottle {
 public:
  explicit LogThrottle(absl::Duration period = absl::Seconds(1))
      : period_ns_(absl::ToInt64Nanoseconds(period)) {}

  // Adds `count` to what happened since the last message; returns the total to report
  // when a message is due now, else 0.
  uint64_t Add(uint64_t count) {
    pending_.fetch_add(count, std::memory_order_relaxed);
    const int64_t now = absl::GetCurrentTimeNanos();
    int64_t next = next_ns_.load(std::memory_order_relaxed);
    if (now < next) return 0;
    if (!next_ns_.compare_exchange_strong(next, now + period_ns_, std::memory_order_relaxed)) {
      return 0;  // another thread reports this period
    }
    return pending_.exchange(0, std::memory_order_relaxed);
  }

 private:
  const int64_t period_ns_;
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> pending_{0};
};

}  // namespace otlpd
