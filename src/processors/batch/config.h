#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/factory.h"

namespace otlpd {

// otelcol's batch processor settings (same keys and defaults).
struct BatchProcessorConfig : ComponentConfig {
  // Items (spans, data points, log records) that trigger a send; 0 sends on every request.
  int64_t send_batch_size = 8192;
  // Upper bound of items in one sent batch; 0 means no limit.
  int64_t send_batch_max_size = 0;
  // Longest time pending items wait while downstream is busy; 0 sends at once.
  absl::Duration timeout = absl::Milliseconds(200);
  // Client metadata keys (lower-cased) whose values partition batching: one batch per
  // distinct combination, carrying those keys downstream.
  std::vector<std::string> metadata_keys;
  // Distinct combinations allowed; past it, requests are refused. 0 = no limit.
  int64_t metadata_cardinality_limit = 1000;

  // Ours (adaptive: {...}): send_batch_size moves between the bounds to hold one batch's
  // export latency (send to downstream completion) near target_latency; batches are also
  // split at the current size. send_batch_size is the starting point.
  struct Adaptive {
    bool enabled = false;
    absl::Duration target_latency = absl::Milliseconds(100);
    int64_t min_send_batch_size = 128;
    int64_t max_send_batch_size = 16384;
  } adaptive;
};

}  // namespace otlpd
