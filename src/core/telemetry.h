#pragma once

#include <google/protobuf/arena.h>

#include <cstddef>
#include <memory>

#include "core/signal.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace otlpd {

using TracesRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using LogsRequest = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

// One unit of telemetry flowing through a pipeline: an OTLP Export*ServiceRequest of one
// signal, allocated on its own arena so that decoding and freeing it are cheap.
//
// A Telemetry is built once (by a receiver or a processor that makes new data) and then
// shared read-only as TelemetryPtr: a fan-out hands the same object to every exporter, so
// a component that wants to change data builds a new Telemetry instead.
class Telemetry {
 public:
  // An empty request of `signal` on a fresh arena. `initial_block` sizes the arena's first
  // block; pass the expected decoded size to avoid growth.
  explicit Telemetry(Signal signal, size_t initial_block = 0);
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  Signal signal() const { return signal_; }

  const google::protobuf::Message& message() const { return *message_; }
  google::protobuf::Message* mutable_message() { return message_; }

  // Typed access; the signal must match.
  const TracesRequest& traces() const;
  const MetricsRequest& metrics() const;
  const LogsRequest& logs() const;
  TracesRequest* mutable_traces();
  MetricsRequest* mutable_metrics();
  LogsRequest* mutable_logs();

  // Spans, metric data points or log records in the request.
  size_t ItemCount() const;

  // The request's wire size when it was decoded (0 if it was built in memory).
  size_t wire_size() const { return wire_size_; }
  void set_wire_size(size_t n) { wire_size_ = n; }

  google::protobuf::Arena* arena() { return arena_.get(); }

 private:
  Signal signal_;
  size_t wire_size_ = 0;
  std::unique_ptr<google::protobuf::Arena> arena_;
  google::protobuf::Message* message_;  // owned by arena_
};

using TelemetryPtr = std::shared_ptr<const Telemetry>;

// Item counts without a Telemetry wrapper.
size_t CountItems(const TracesRequest& r);
size_t CountItems(const MetricsRequest& r);
size_t CountItems(const LogsRequest& r);
size_t CountItems(Signal signal, const google::protobuf::Message& m);

}  // namespace otlpd
