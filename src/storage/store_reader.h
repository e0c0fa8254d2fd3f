#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "opentelemetry/proto/logs/v1/logs.pb.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace otlpd::storage {

using TraceId = std::array<uint8_t, 16>;

// Times are absl::Time; an unset bound is InfinitePast / InfiniteFuture.
struct TimeRange {
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfiniteFuture();
  bool Contains(absl::Time t) const { return t >= start && t <= end; }
};

// What Jaeger's /api/traces searches by. A trace matches when one of its spans matches
// every condition given (service, operation, kind, tags, duration, time).
struct TraceQuery {
  std::string service;    // resource service.name; "" = any
  std::string operation;  // span name; "" = any
  // OTLP span kind as Jaeger names it: "server", "client", "producer", "consumer",
  // "internal"; "" = any.
  std::string span_kind;
  // Each key=value must equal a span attribute, a resource attribute or an event
  // attribute of the same span, compared as the value's string form ("true", "200",
  // "1.5"). Jaeger's special tags: "error"="true" matches spans with status ERROR;
  // "span.kind"; "otel.status_code" ("OK"/"ERROR"/"UNSET").
  std::vector<std::pair<std::string, std::string>> tags;
  std::optional<absl::Duration> min_duration;
  std::optional<absl::Duration> max_duration;
  TimeRange time;  // span start time within
  size_t limit = 20;
};

struct Operation {
  std::string name;
  std::string span_kind;  // "server", "client", ... ("" when unspecified)
  bool operator==(const Operation&) const = default;
  auto operator<=>(const Operation&) const = default;
};

// One edge of the service dependency graph: `parent` called `child` call_count times
// (spans of child whose parent span belongs to parent, in the time window).
struct DependencyLink {
  std::string parent;
  std::string child;
  uint64_t call_count = 0;
};

struct LogQuery {
  // Every word must occur in the body (case-insensitive, split at non-alphanumerics).
  std::vector<std::string> words;
  std::string service;
  std::optional<TraceId> trace_id;
  int min_severity = 0;  // OTLP SeverityNumber; 0 = any
  TimeRange time;        // record time (observed time when time is 0)
  size_t limit = 100;
};

struct MetricQuery {
  std::string name;  // exact metric name; required
  // Each key=value must equal a data point attribute or a resource attribute.
  std::vector<std::pair<std::string, std::string>> match;
  TimeRange time;  // point time
};

// The read side of a store, as the query extension uses it. Results are OTLP messages,
// grouped by resource and scope like they were received. Implementations are safe to call
// from several threads at once, also while data is written and migrated: a query sees
// every item that was acknowledged before it started exactly once.
class StoreReader {
 public:
  virtual ~StoreReader() = default;

  // service.name values of stored spans, sorted.
  virtual absl::StatusOr<std::vector<std::string>> Services() = 0;
  // Span names (with kind) of `service`; only those of `span_kind` when it is not "".
  virtual absl::StatusOr<std::vector<Operation>> Operations(const std::string& service,
                                                            const std::string& span_kind) = 0;
  // Ids of the traces that match, the most recent (by their latest matching span start)
  // first, at most query.limit.
  virtual absl::StatusOr<std::vector<TraceId>> FindTraces(const TraceQuery& query) = 0;
  // Every stored span of the trace; nullopt when none is stored.
  virtual absl::StatusOr<std::optional<opentelemetry::proto::trace::v1::TracesData>> GetTrace(
      const TraceId& id) = 0;
  // Parent/child service call counts of spans that start within `time`.
  virtual absl::StatusOr<std::vector<DependencyLink>> Dependencies(const TimeRange& time) = 0;

  // Matching log records, the most recent first, at most query.limit.
  virtual absl::StatusOr<opentelemetry::proto::logs::v1::LogsData> FindLogs(
      const LogQuery& query) = 0;
  // The matching series with their points within query.time, in time order.
  virtual absl::StatusOr<opentelemetry::proto::metrics::v1::MetricsData> FindMetrics(
      const MetricQuery& query) = 0;
};

// Implemented by a component that owns a store (the tiered_storage exporter), so that the
// query extension can find it through the Host.
class StoreReaderProvider {
 public:
  virtual ~StoreReaderProvider() = default;
  // Null until the store is open (the component has started).
  virtual StoreReader* store_reader() = 0;
};

}  // namespace otlpd::storage
