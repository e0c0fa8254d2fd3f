#pragma once

#include <google/protobuf/arena.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/synchronization/mutex.h"
#include "core/auth.h"
#include "core/signal.h"
#include "core/span_index.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace otlpd {

using TracesRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using LogsRequest = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

class Telemetry;
using TelemetryPtr = std::shared_ptr<const Telemetry>;

// One unit of telemetry flowing through a pipeline: an OTLP Export*ServiceRequest of one
// signal, held in one or both of two forms:
//  - its OTLP protobuf encoding (wire()): what a receiver got, or a concatenation of
//    such requests. Exporters and queues send and store these bytes as they are.
//  - the decoded message (message()), on its own arena.
// A request received as protobuf is kept as bytes and decoded only when a component asks
// for the message (a JSON exporter, a processor looking inside); a request built in
// memory is encoded only when a component asks for the bytes. Both happen at most once,
// thread-safely.
//
// A Telemetry is built once (by a receiver or a processor that makes new data) and then
// shared read-only as TelemetryPtr: a fan-out hands the same object to every exporter, so
// a component that wants to change data builds a new Telemetry instead.
class Telemetry {
 public:
  // An empty request of `signal` to be built in memory. `initial_block` sizes the arena's
  // first block; pass the expected decoded size to avoid growth.
  explicit Telemetry(Signal signal, size_t initial_block = 0);
  // The bytes of an Export*ServiceRequest of `signal` holding `items` items that
  // ScanOtlpRequest (core/otlp_wire.h) accepted, so that decoding them cannot fail.
  static std::shared_ptr<Telemetry> FromWire(Signal signal, absl::Cord wire, size_t items);
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  Signal signal() const { return signal_; }

  // The decoded request (decoded now if it was only bytes).
  const google::protobuf::Message& message() const;
  const TracesRequest& traces() const;
  const MetricsRequest& metrics() const;
  const LogsRequest& logs() const;

  // For building or changing a Telemetry before it is shared. Drops the encoded bytes,
  // which would no longer match.
  google::protobuf::Message* mutable_message();
  TracesRequest* mutable_traces();
  MetricsRequest* mutable_metrics();
  LogsRequest* mutable_logs();
  google::protobuf::Arena* arena();

  // The OTLP protobuf encoding (encoded now if it was only decoded).
  const absl::Cord& wire() const;
  // Size of wire() in bytes, without encoding a decoded request.
  size_t ByteSize() const;
  // Whether the bytes are at hand without encoding (for size estimates: decoded data takes
  // a few times its encoded size).
  bool has_wire() const { return wire_ready_.load(std::memory_order_acquire); }
  bool has_message() const { return message_ready_.load(std::memory_order_acquire); }

  // Spans, metric data points or log records in the request (counted once).
  size_t ItemCount() const;
  // For a builder that knows the count of what it built (after its last change).
  void SetItemCount(size_t n) { items_.store(n, std::memory_order_relaxed); }

  // The client metadata the receiver kept (include_metadata), or null.
  const std::shared_ptr<const Metadata>& metadata() const { return metadata_; }
  void set_metadata(std::shared_ptr<const Metadata> m) { metadata_ = std::move(m); }

  // The receiver's span index of wire() (core/span_index.h), when it built one: only for
  // bytes exactly as the receiver scanned them.
  const std::shared_ptr<const SpanIndex>& span_index() const { return span_index_; }
  void set_span_index(std::shared_ptr<const SpanIndex> index) { span_index_ = std::move(index); }

  // Keeps `source` alive as long as this Telemetry: for a request whose message points into
  // other requests' arenas (a batch sharing their items without copying).
  void KeepAlive(TelemetryPtr source) { keep_alive_.push_back(std::move(source)); }

 private:
  // Only FromWire can make one, but make_shared needs a public constructor to call.
  struct WireTag {
    explicit WireTag() = default;
  };

 public:
  Telemetry(WireTag, Signal signal, absl::Cord wire, size_t items);

 private:
  void Decode() const;
  void Encode() const;
  google::protobuf::Message* NewMessage(google::protobuf::Arena* arena) const;

  static constexpr size_t kUnknown = ~size_t{0};

  const Signal signal_;
  mutable std::unique_ptr<google::protobuf::Arena> arena_;
  mutable google::protobuf::Message* message_ = nullptr;  // owned by arena_
  mutable absl::Cord wire_;
  mutable std::atomic<bool> message_ready_{false};
  mutable std::atomic<bool> wire_ready_{false};
  mutable absl::Mutex lazy_mu_;  // held while decoding or encoding on first use
  mutable std::atomic<size_t> items_{kUnknown};
  mutable std::atomic<size_t> byte_size_{kUnknown};
  std::shared_ptr<const Metadata> metadata_;
  std::shared_ptr<const SpanIndex> span_index_;
  std::vector<TelemetryPtr> keep_alive_;
};

// Item counts without a Telemetry wrapper.
size_t CountItems(const TracesRequest& r);
size_t CountItems(const MetricsRequest& r);
size_t CountItems(const LogsRequest& r);
size_t CountItems(Signal signal, const google::protobuf::Message& m);

// Parses `wire` into `out` (on `out`'s arena); false if it is not a valid encoding.
bool ParseFromCord(const absl::Cord& wire, google::protobuf::Message* out);

}  // namespace otlpd
