#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/consumer.h"
#include "core/telemetry.h"

namespace otlpd {

// How a queue or a batch measures its size (otelcol's `sizer`).
enum class Sizer { kRequests, kItems, kBytes };

// The size of `data` in `sizer` units.
int64_t SizeOf(Sizer sizer, const Telemetry& data);

// otelcol's sending_queue.batch: batches form from what is queued, on the consuming side.
struct QueueBatchSettings {
  absl::Duration flush_timeout = absl::Milliseconds(200);
  int64_t min_size = 8192;  // a batch is sent as soon as it holds this much
  int64_t max_size = 0;     // 0: no limit; requests larger than this are split
  Sizer sizer = Sizer::kItems;
};

// otelcol's exporterhelper sending_queue settings, same keys and defaults.
struct QueueSettings {
  bool enabled = true;
  int num_consumers = 10;     // concurrent sends
  int64_t queue_size = 1000;  // capacity, in `sizer` units
  Sizer sizer = Sizer::kRequests;
  // Full queue: wait for room (up to the exporter's timeout) instead of refusing at once.
  bool block_on_overflow = false;
  // How long a blocked offer waits: the exporter's timeout (filled in by the exporter
  // helper, not a config key).
  absl::Duration block_timeout = absl::ZeroDuration();
  // Callers wait until their data is sent (or has failed) instead of until it is queued.
  bool wait_for_result = false;
  // A storage extension (e.g. file_storage) that keeps the queue on disk.
  std::optional<ComponentId> storage;
  std::optional<QueueBatchSettings> batch;
};

// Current contents of a queue, pending and handed out but not yet committed.
struct QueueSizes {
  int64_t requests = 0;
  int64_t items = 0;
  int64_t bytes = 0;
  int64_t In(Sizer sizer) const {
    return sizer == Sizer::kRequests ? requests : sizer == Sizer::kItems ? items : bytes;
  }
  // Counts one request in (sign +1) or out (-1).
  void Add(const Telemetry& data, int sign);
  void Add(int64_t request_items, int64_t request_bytes, int sign);
};

// What every queue answers an Offer it refuses (retryable, with a Retry-After of 1 s).
absl::Status QueueFullError();
absl::Status QueueClosedError();

// One request taken from a queue, to be committed once it is sent or has failed for good.
struct QueuedRequest {
  uint64_t id = 0;
  TelemetryPtr data;
  absl::Time enqueued;
};

// The queue in front of an exporter's senders. The in-memory queue is one implementation;
// a durable one keeps its requests in a crash-safe log (a storage extension provides it).
// Thread-safe.
class SendingQueue {
 public:
  virtual ~SendingQueue() = default;
  // Recovers what a previous run left (durable queues), before any other call.
  virtual absl::Status Start() = 0;
  // Stores `data`. `done` runs once it is stored (durably: synced), or with a retryable
  // error (core/status.h) when the queue is full or closed.
  virtual void Offer(TelemetryPtr data, Completion done) = 0;
  // The oldest request not handed out yet; waits for one until `deadline`. nullopt at the
  // deadline, or once the queue is closed and nothing is left to hand out.
  virtual std::optional<QueuedRequest> Read(absl::Time deadline) = 0;
  // Request `id` is done with: sent, or failed for good (`outcome`); it leaves the queue.
  virtual void Commit(uint64_t id, const absl::Status& outcome) = 0;
  // Refuses every Offer from now on and wakes Read()ers; what is queued can still be read.
  virtual void Close() = 0;
  // Whether requests not committed survive a restart (then shutdown leaves them queued).
  virtual bool durable() const = 0;
  virtual QueueSizes sizes() const = 0;
  // The capacity, in the queue's sizer units.
  virtual int64_t capacity() const = 0;
  virtual Sizer sizer() const = 0;
  // Age of the oldest request still queued (zero when empty).
  virtual absl::Duration oldest_age() const = 0;
  // Records found damaged on disk and skipped since Start (durable queues).
  virtual uint64_t damaged_records() const { return 0; }
};

// Implemented by storage extensions that can hold an exporter's sending queue on disk
// (`sending_queue.storage: <id>`).
class SendingQueueProvider {
 public:
  virtual ~SendingQueueProvider() = default;
  // A queue for exporter `owner` with `settings`, recovering what an earlier run of the
  // same exporter left.
  virtual absl::StatusOr<std::unique_ptr<SendingQueue>> CreateQueue(
      const ComponentId& owner, const QueueSettings& settings) = 0;
};

}  // namespace otlpd
