#pragma once

#include <cstddef>
#include <string>

#include "absl/time/time.h"
#include "core/factory.h"
#include "processors/consistent_sampling/threshold.h"

namespace otlpd {

struct AdaptiveSamplerConfig : ComponentConfig {
  // The output to hold, per key: spans per second, or traces per second (a trace counted by
  // its root span). Exactly one is set.
  double goal_spans_per_second = 0;
  double goal_traces_per_second = 0;
  // The resource attribute whose value is the key; "" holds the goal over everything.
  std::string key_attribute = "service.name";
  // Keys with their own probability; the keys past it share one ("_other"), still counted.
  size_t max_keys = 1000;
  absl::Duration adjustment_interval = absl::Seconds(10);
  // Weight of the newest interval's input rate in the smoothed rate (EWMA), in (0, 1].
  double smoothing = 0.5;
  double min_sampling_percentage = 0.01;
  double max_sampling_percentage = 100;
  // The probability of a key before its first adjustment.
  double initial_sampling_percentage = 100;
  int sampling_precision = consistent_sampling::kDefaultPrecision;
  bool fail_closed = true;
};

}  // namespace otlpd
