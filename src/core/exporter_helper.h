#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/config_node.h"
#include "core/exporter_metrics.h"
#include "core/log_throttle.h"
#include "core/metrics.h"
#include "core/sending_queue.h"

namespace otlpd {

// otelcol's retry_on_failure, same keys and defaults.
struct RetrySettings {
  bool enabled = true;
  absl::Duration initial_interval = absl::Seconds(5);
  absl::Duration max_interval = absl::Seconds(30);
  absl::Duration max_elapsed_time = absl::Minutes(5);  // 0 = retry forever
  // Whether the config sets max_elapsed_time. Without it, a durable queue retries forever:
  // it is there to outlast outages, and dropping acknowledged data after 5 minutes of one
  // would defeat it (opentelemetry-collector#15324).
  bool max_elapsed_time_set = false;
  double multiplier = 1.5;
  double randomization_factor = 0.5;
  // "Full jitter": each delay is uniform in [0, interval] instead of interval ±
  // randomization_factor, which spreads out the retries of many senders after an outage.
  bool full_jitter = false;
};

// otelcol's exporterhelper settings: `timeout`, `retry_on_failure`, `sending_queue`.
struct ExporterHelperSettings {
  absl::Duration timeout = absl::Seconds(5);  // per send attempt; 0 = none
  RetrySettings retry;
  QueueSettings queue;
};

// Reads the three keys from an exporter's config node (errors go to the node's diagnostics).
void ParseExporterHelperSettings(ConfigNode& node, ExporterHelperSettings* out);
void ParseQueueSettings(ConfigNode node, QueueSettings* out);
void ParseRetrySettings(ConfigNode node, RetrySettings* out);

// What one send attempt achieved.
struct SendResult {
  absl::Status status;  // OK, retryable (core/status.h, optionally with RetryAfter), or not
  // OK with partial_success: items the upstream rejected (not retried) and why.
  size_t rejected = 0;
  std::string rejection_message;
};

// What a sender may keep across the attempts (retries) of one batch, e.g. its compressed
// body, so that a retry does not encode or compress again. Freed after the last attempt.
struct SendContext {
  int attempt = 0;  // 0 for the first
  std::shared_ptr<void> prepared;
};

// The part of a network exporter that talks to its upstream: one attempt per call. The
// helper does everything around it (queue, batching, retry, timeout, metrics, shutdown).
class RequestSender {
 public:
  virtual ~RequestSender() = default;
  virtual absl::Status Start(Host* host) {
    (void)host;
    return absl::OkStatus();
  }
  // One attempt to deliver `data`, giving up at `deadline`. Called from several threads;
  // `context` is this batch's, the same for each of its attempts.
  virtual SendResult Send(const Telemetry& data, SendContext* context, absl::Time deadline) = 0;
  // Makes Sends in progress return soon (shutdown ran out of time).
  virtual void CancelAll() = 0;
  virtual void Shutdown() {}
};

// What an exporter built on the helper may add to it.
struct ExporterHelperHooks {
  // Makes the sending queue, instead of the one sending_queue's settings describe (e.g.
  // edge_sync keeps its own queue directory).
  std::function<absl::StatusOr<std::unique_ptr<SendingQueue>>()> make_queue;
  // Sees what failed for good before it is committed: a permanent error, retries that ran
  // out, or (status OK) the `rejected` items of a partial success. E.g. a dead-letter file.
  std::function<void(const Telemetry& data, const absl::Status& why, size_t rejected,
                     const std::string& message)>
      on_failure;
};

// otelcol's exporterhelper, as an Exporter around a RequestSender:
//  - Consume offers the request to the sending queue (memory, or durable through a storage
//    extension) and completes once it is stored there; a full queue refuses retryably.
//    With the queue disabled, the caller waits for the send (at most num_consumers at once).
//  - num_consumers workers take requests from the queue; with sending_queue.batch, what
//    is queued is merged into batches of at least min_size (or whatever arrived within
//    flush_timeout of the first) and at most max_size, split if needed.
//  - Each batch is sent with retries (exponential backoff with jitter, RetryAfter hints
//    win) until it succeeds, fails permanently, or max_elapsed_time passes; then every
//    request in it is committed. Partial success counts the rejected items as failed.
//  - Shutdown stops taking data and keeps sending until the deadline; then what a memory
//    queue still holds is counted as failed, while a durable queue keeps it for the next run.
// Self-metrics: otelcol_exporter_{sent,send_failed,enqueue_failed}_<items>,
// otelcol_exporter_queue_{size,capacity}, otelcol_exporter_queue_batch_send_size{,_bytes}.
class ExporterHelper final : public Exporter {
 public:
  ExporterHelper(const CreateSettings& settings, ExporterHelperSettings helper,
                 std::unique_ptr<RequestSender> sender, ExporterHelperHooks hooks = {});
  ~ExporterHelper() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

  RequestSender& sender() { return *sender_; }
  const SendingQueue* queue() const { return queue_.get(); }

 private:
  void WorkerLoop();
  // Takes the next batch from the queue (one request without batching); empty when the
  // queue is closed and drained. `carry` holds a request read but left for the next batch.
  std::vector<QueuedRequest> NextBatch(std::optional<QueuedRequest>* carry);
  void SendBatch(std::vector<QueuedRequest> batch);
  absl::Status SendWithRetry(const TelemetryPtr& data, size_t* rejected, std::string* message);
  bool Aborted() const { return aborted_.load(std::memory_order_acquire); }
  void DropQueued();
  bool WorkersDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_workers_ == 0; }

  const ComponentId id_;
  Host* const host_;
  std::unique_ptr<MetricsRegistry> own_metrics_;  // when there is no host (tests)
  const ExporterHelperSettings settings_;
  const std::unique_ptr<RequestSender> sender_;
  const ExporterHelperHooks hooks_;
  std::unique_ptr<SendingQueue> queue_;
  ExporterMetrics outcomes_;
  std::array<Counter*, 3> enqueue_failed_{};
  LogThrottle refusal_log_;
  LogThrottle drop_log_;
  LogThrottle partial_log_;
  Histogram* batch_items_ = nullptr;
  Histogram* batch_bytes_ = nullptr;
  // What the queue gauges read; the registry keeps it past this object's life.
  struct QueueView {
    absl::Mutex mu;
    const SendingQueue* queue ABSL_GUARDED_BY(mu) = nullptr;
  };
  std::shared_ptr<QueueView> queue_view_ = std::make_shared<QueueView>();

  absl::Mutex forming_mu_;  // one worker at a time gathers a batch; the others send theirs
  absl::Mutex mu_;
  absl::CondVar abort_cv_;
  std::atomic<bool> aborted_{false};
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  int active_workers_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> workers_;
};

}  // namespace otlpd
