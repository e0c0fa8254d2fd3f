#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/telemetry.h"

namespace otlpd::testing {

using TracesResponse = opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using MetricsResponse = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse;
using LogsResponse = opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse;

// Shape of a generated request. Everything in it (ids, timestamps, values) follows from
// `seed`, so two calls with the same options give equal messages and different seeds give
// different trace ids.
struct SampleOptions {
  uint64_t seed = 1;
  int resources = 1;
  int scopes_per_resource = 1;
  int items_per_scope = 3;  // spans, metrics (each with a few data points), or log records
  std::string service_name = "otlpd-test";
  // Extra bytes of attribute payload per item, to make large requests cheaply.
  int padding_bytes = 0;
  // When false, the items are plain (name, ids, times) without the full variety of
  // attribute types, events, links, exemplars and odd strings.
  bool rich = true;
};

TracesRequest MakeTraces(const SampleOptions& options = {});
MetricsRequest MakeMetrics(const SampleOptions& options = {});
LogsRequest MakeLogs(const SampleOptions& options = {});

// Trace `n` of a small two-service system: a "frontend" server span (GET /users/{id}), its
// client span calling "backend", and the backend's server span (SELECT users), with
// http.route, http.response.status_code (500 when `error`, and the backend span's status
// ERROR) and user.id = user-<n % 7>. Trace id CallTraceId(n); times from `start_ns`; the
// durations grow with n.
TracesRequest MakeCallTrace(uint64_t n, int64_t start_ns, bool error = false);
std::string CallTraceId(uint64_t n);  // 16 bytes

// Deterministic 16-byte trace id and 8-byte span id.
std::string MakeTraceId(uint64_t seed, uint64_t index);
std::string MakeSpanId(uint64_t seed, uint64_t index);
std::string HexId(std::string_view bytes);

// Every trace id (as hex) of spans in `requests`; `duplicates` (optional) counts spans whose
// (trace id, span id) was already seen.
std::set<std::string> TraceIds(const std::vector<TracesRequest>& requests,
                               int* duplicates = nullptr);

template <class Request>
size_t TotalItems(const std::vector<Request>& requests) {
  size_t n = 0;
  for (const auto& r : requests) n += CountItems(r);
  return n;
}

// "" when equal, else a readable description of the differences.
std::string ProtoDiff(const google::protobuf::Message& expected,
                      const google::protobuf::Message& actual);

// Complete lines ("\n"-terminated) of a file; a line still being written is left out.
// Missing file gives no lines.
std::vector<std::string> ReadCompleteLines(const std::string& path);

// Decodes each complete line of a file exporter output (OTLP/JSON, one Export request per
// line) into a Request.
absl::StatusOr<std::vector<TracesRequest>> ReadTracesFile(const std::string& path);
absl::StatusOr<std::vector<MetricsRequest>> ReadMetricsFile(const std::string& path);
absl::StatusOr<std::vector<LogsRequest>> ReadLogsFile(const std::string& path);

template <class Request>
absl::StatusOr<std::vector<Request>> ReadFileExporterLines(const std::string& path);

// Number of items (spans / points / records) in the complete lines of a file exporter
// output; -1 if a line does not decode.
long CountFileItems(Signal signal, const std::string& path);

// Waits (bounded) until the file exporter output at `path` holds at least `min_lines`
// complete lines, then `settle` longer so that extra lines (duplicates) would show up too.
// Returns the complete lines at that point.
std::vector<std::string> WaitForLines(const std::string& path, size_t min_lines,
                                      absl::Duration timeout = absl::Seconds(15),
                                      absl::Duration settle = absl::Milliseconds(300));

// Waits (bounded) until the output holds at least `min_items` items of `signal`; returns
// the count at that point (-1 if a line does not decode).
long WaitForItems(Signal signal, const std::string& path, long min_items,
                  absl::Duration timeout = absl::Seconds(15));

// Value of a string attribute of a resource (or "" if absent).
std::string ResourceAttribute(const opentelemetry::proto::resource::v1::Resource& resource,
                              std::string_view key);

}  // namespace otlpd::testing
