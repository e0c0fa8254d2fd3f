#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "storage/store_reader.h"

namespace otlpd::storage {

// The in-memory index of the hot tier: compact rows per span, log record and metric that
// point at the log records (by record number) holding them, so that lookups and searches
// touch only the records that match. Rebuilt from the log at start. Not thread-safe: the
// store guards it with a reader/writer lock.
//
// Per span it keeps ~64 bytes plus 8 per attribute (a hash of key=value, not the text):
// the hot tier's memory is bounded by its max_size and max_age.
class HotIndex {
 public:
  using TracesRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
  using LogsRequest = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;
  using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;

  // Indexes the Export*ServiceRequest in `request` (protobuf bytes that ScanOtlpRequest
  // accepted), reading the fields it keeps straight from the bytes. `record` numbers grow
  // with every call (any signal).
  void AddTraces(uint64_t record, std::string_view request);
  void AddLogs(uint64_t record, std::string_view request);
  void AddMetrics(uint64_t record, std::string_view request);
  // Forgets every row of records numbered below `record` (they left the tier).
  void DropBefore(uint64_t record);

  std::vector<std::string> Services() const;
  std::vector<Operation> Operations(const std::string& service, const std::string& span_kind) const;
  // Matching traces with their latest matching span start (ns), newest first, at most
  // query.limit.
  std::vector<std::pair<TraceId, int64_t>> FindTraces(const TraceQuery& query) const;
  // Records holding spans of the trace, ascending.
  std::vector<uint64_t> TraceRecords(const TraceId& id) const;
  // Adds the parent->child service calls of spans starting within `time`.
  void Dependencies(const TimeRange& time,
                    std::map<std::pair<std::string, std::string>, uint64_t>* calls) const;
  // (record, index of the log record within the request in resource/scope/record order)
  // of records that match everything but the words, newest first.
  std::vector<std::pair<uint64_t, uint32_t>> FindLogs(const LogQuery& query) const;
  // Records holding points of the metric within `time`, ascending.
  std::vector<uint64_t> MetricRecords(const std::string& name, const TimeRange& time) const;

  uint64_t spans() const { return spans_.size(); }
  uint64_t log_records() const { return logs_.size(); }
  uint64_t metric_points() const { return metric_points_; }

  // Jaeger's name for an OTLP span kind ("server", ...; "" for unspecified).
  static std::string KindName(int kind);

 private:
  struct ResourceRow {
    uint32_t service = 0;
    std::vector<uint64_t> attributes;  // AttributeHash of each
    uint64_t signature = 0;            // Signature() of them
  };
  struct SpanRow {
    uint64_t record;
    TraceId trace;
    uint64_t span_id;
    uint64_t parent_id;
    int64_t start;
    int64_t duration;
    uint32_t resource;
    uint32_t name;
    uint32_t attr_begin;
    uint16_t attr_count;
    uint8_t kind;
    uint8_t status;
    // One bit per attribute hash (and event attribute): a tag search skips a row whose
    // signature, or'ed with its resource's, lacks a bit of the tags it wants.
    uint64_t signature;
  };
  static uint64_t SignatureBit(uint64_t attribute_hash) {
    return uint64_t{1} << (attribute_hash >> 58);
  }
  struct LogRow {
    uint64_t record;
    TraceId trace;
    int64_t time;
    uint32_t resource;
    uint32_t index;
    uint8_t severity;
    bool has_trace;
  };
  struct MetricRow {
    uint64_t record;
    uint32_t name;
    int64_t min_time;
    int64_t max_time;
    uint64_t points;
  };
  struct TraceEntry {
    std::vector<uint64_t> records;
    uint32_t spans = 0;
  };

  uint32_t Intern(std::string_view s);
  uint32_t FindString(const std::string& s) const;  // kNone when absent
  // The row of a Resource given as its bytes (equal bytes share one row).
  uint32_t AddResource(std::string_view resource);
  void AddSpan(uint64_t record, uint32_t resource, std::string_view span);
  bool SpanMatches(const SpanRow& row, const TraceQuery& q, uint32_t service, uint32_t name,
                   const std::vector<uint64_t>& tag_hashes, uint64_t tag_signature,
                   int want_kind, int want_status) const;

  static constexpr uint32_t kNone = ~uint32_t{0};

  std::vector<std::string> strings_;
  absl::flat_hash_map<std::string, uint32_t> string_ids_;
  std::vector<ResourceRow> resources_;
  absl::flat_hash_map<std::string, uint32_t> resource_ids_;  // by the resource's bytes

  std::deque<SpanRow> spans_;
  std::deque<uint64_t> span_attributes_;  // span_attr_base_ + i
  uint64_t span_attr_base_ = 0;
  std::deque<LogRow> logs_;
  std::deque<MetricRow> metrics_;
  uint64_t metric_points_ = 0;

  absl::flat_hash_map<TraceId, TraceEntry> traces_;
  // Spans stored per (service, span name, kind), for Services/Operations.
  struct OperationKey {
    uint32_t service;
    uint32_t name;
    uint8_t kind;
    bool operator==(const OperationKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const OperationKey& k) {
      return H::combine(std::move(h), k.service, k.name, k.kind);
    }
  };
  absl::flat_hash_map<OperationKey, uint64_t> operations_;
};

}  // namespace otlpd::storage
