// The standard benchmark workload (shared/README.md §3): OTLP trace export requests of
// N spans, each span with 10 string attributes (20-character keys and values) and one
// event, under a resource carrying service.name; trace and span ids are random.
#ifndef OTLPD_BENCH_LOADGEN_WORKLOAD_H_
#define OTLPD_BENCH_LOADGEN_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace otlpd::loadgen {

struct WorkloadOptions {
  int spans_per_request = 100;
  // Spans sharing one trace id (1 = every span starts its own trace).
  int spans_per_trace = 1;
  int attributes_per_span = 10;
  int attribute_key_length = 20;
  int attribute_value_length = 20;
  std::string service_name = "otlpd-loadgen";
};

using TraceRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

// Builds one request with fresh random ids and attribute values.
TraceRequest BuildTraceRequest(const WorkloadOptions& options, uint64_t seed);

// Encodes a request as OTLP/JSON (hex trace/span ids, string-encoded 64-bit integers,
// lowerCamelCase keys), covering the fields BuildTraceRequest populates.
std::string EncodeOtlpJson(const TraceRequest& request);

// gzip (RFC 1952) of `data`, as sent with Content-Encoding: gzip.
absl::StatusOr<std::string> GzipCompress(std::string_view data);

}  // namespace otlpd::loadgen

#endif  // OTLPD_BENCH_LOADGEN_WORKLOAD_H_
