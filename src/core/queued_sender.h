#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/config_node.h"
#include "core/consumer.h"
#include "core/metrics.h"

namespace otlpd {

// otelcol's exporterhelper settings, same keys and defaults.
struct QueueSettings {
  bool enabled = true;
  int num_consumers = 10;
  int queue_size = 1000;  // requests
};
struct RetrySettings {
  bool enabled = true;
  absl::Duration initial_interval = absl::Seconds(5);
  absl::Duration max_interval = absl::Seconds(30);
  absl::Duration max_elapsed_time = absl::Minutes(5);  // 0 = retry forever
  double multiplier = 1.5;
  double randomization_factor = 0.5;
};

// Parse "sending_queue" / "retry_on_failure" children of an exporter's config node.
void ParseQueueSettings(ConfigNode node, QueueSettings* out);
void ParseRetrySettings(ConfigNode node, RetrySettings* out);

// The queue and retry loop in front of a network exporter (otelcol's exporterhelper).
// Submit() enqueues and completes OK at once (the data has reached the exporter's queue);
// when the queue is full it completes with a retryable kUnavailable. With the queue
// disabled, Submit completes when the send has finished (after retries).
// `send` runs on one of num_consumers threads and returns OK, a retryable error (optionally
// carrying RetryAfter, which overrides the backoff) or a permanent error (dropped, counted).
class QueuedRetrySender {
 public:
  using SendFn = std::function<absl::Status(const Telemetry&)>;
  QueuedRetrySender(std::string exporter_id, QueueSettings queue, RetrySettings retry, SendFn send,
                    MetricsRegistry* metrics);
  ~QueuedRetrySender();

  void Start();
  void Submit(TelemetryPtr data, Completion done);
  // Stops taking data, keeps sending what is queued until `deadline`, then gives up
  // (what is still queued is counted as send_failed).
  void Shutdown(absl::Time deadline);

  size_t queue_size() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlpd
