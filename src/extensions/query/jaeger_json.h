#pragma once

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "extensions/query/json_writer.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace otlpd::query {

// Jaeger's TraceID.String(): 16 hex digits when the high 8 bytes are zero, else 32.
std::string JaegerTraceId(absl::string_view id_bytes);
// Jaeger's SpanID.String(): always 16 hex digits.
std::string JaegerSpanId(absl::string_view id_bytes);

// Writes the spans of `trace` (one trace) as Jaeger's UI JSON model (model/json.Trace):
//   {"traceID", "spans":[...], "processes":{"p1":{"serviceName","tags"}}, "warnings":null}
// mapped from OTLP the way the Jaeger translator does (pkg/translator/jaeger):
//  - a resource becomes a process: service.name → serviceName ("OTLPResourceNoServiceName"
//    for a resource without attributes), the other attributes → tags; equal processes share
//    one id, numbered "p1", "p2", ... by first use;
//  - span tags: otel.scope.name/version, the attributes, span.kind, otel.status_code
//    ("OK"/"ERROR"), error=true on ERROR, otel.status_description, w3c.tracestate;
//  - typed tags: string, bool, int64 (a string beyond ±2^53, as Jaeger does for JavaScript),
//    float64, binary (base64); map/array attributes as a JSON string;
//  - parent → a CHILD_OF reference first, links → FOLLOWS_FROM (CHILD_OF when the link has
//    opentracing.ref_type=child_of; a link to the parent only retypes that reference);
//  - events → logs {timestamp, fields}, with an "event" field holding the event name;
//  - startTime, duration and timestamps in microseconds (truncated); flags (the W3C trace
//    flags byte) left out when 0, as Jaeger's omitempty does.
// `extra`, when set, writes more members into the trace object (e.g. correlated logs).
void WriteJaegerTrace(const opentelemetry::proto::trace::v1::TracesData& trace, JsonWriter* json,
                      const std::function<void(JsonWriter*)>& extra = {});

}  // namespace otlpd::query
