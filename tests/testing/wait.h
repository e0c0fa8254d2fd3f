#pragma once

#include <algorithm>
#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace otlpd::testing {

// Polls `pred` every `interval` until it returns true or `timeout` has passed; returns the
// last result. `pred` runs at least once and once more at the deadline.
inline bool WaitUntil(const std::function<bool()>& pred, absl::Duration timeout,
                      absl::Duration interval = absl::Milliseconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (pred()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(std::min(interval, deadline - absl::Now()));
    if (absl::Now() >= deadline) return pred();
  }
}

}  // namespace otlpd::testing
