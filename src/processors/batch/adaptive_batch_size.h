#pragma once

#include <algorithm>
#include <cstddef>

#include "absl/time/time.h"

namespace otlpd {

// The batch processor's adaptive send_batch_size: a damped proportional controller that
// moves the size between bounds so that one batch's export latency stays near a target.
//
// After each export of `items` that took `latency`, the size this batch suggests is
// items * target / latency (export cost taken as proportional to the items: with a fixed
// part per export this undershoots, so the controller approaches the target from below and
// settles where latency(size) == target). The size moves half way toward it, growing at
// most 2x per export. A batch smaller than half the current size says nothing about larger
// ones, so it may shrink the size but never grow it. Not thread-safe (the processor calls
// it under its lock).
class AdaptiveBatchSize {
 public:
  AdaptiveBatchSize(size_t initial, size_t min, size_t max, absl::Duration target)
      : size_(std::clamp(initial, min, max)), min_(min), max_(max), target_(target) {}

  size_t size() const { return size_; }

  // Returns the new size.
  size_t OnExport(size_t items, absl::Duration latency) {
    if (items == 0) return size_;
    const double current = static_cast<double>(size_);
    double suggested = current * 2;  // an export faster than the clock resolves
    if (latency > absl::ZeroDuration()) {
      suggested = static_cast<double>(items) * absl::FDivDuration(target_, latency);
    }
    double next = current + (suggested - current) / 2;
    next = std::min(next, current * 2);
    if (next > current && items * 2 < size_) next = current;
    size_ = std::clamp(static_cast<size_t>(next + 0.5), min_, max_);
    return size_;
  }

 private:
  size_t size_;
  const size_t min_;
  const size_t max_;
  const absl::Duration target_;
};

}  // namespace otlpd
