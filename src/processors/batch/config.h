#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "core/factory.h"

namespace otlpd {

// otelcol's batch processor settings (same keys and defaults).
struct BatchProcessorConfig : ComponentConfig {
  // Items (spans, data points, log records) that trigger a send; 0 sends on every request.
  int64_t send_batch_size = 8192;
  // Upper bound of items in one sent batch; 0 means no limit.
  int64_t send_batch_max_size = 0;
  // Longest time the first pending item waits; 0 sends at once.
  absl::Duration timeout = absl::Milliseconds(200);
};

}  // namespace otlpd
