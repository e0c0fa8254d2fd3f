#pragma once

#include <cstddef>
#include <string>

#include "core/telemetry.h"

namespace otlpd {

// OTLP id checks done by the receiver before data enters a pipeline (see README "Ids").
//
// Spans: trace_id must be 16 bytes and span_id 8 bytes, neither all zero; parent_span_id
// empty or 8 bytes; every link's trace_id/span_id like the span's own. Log records:
// trace_id empty or 16 bytes, span_id empty or 8 bytes. Metrics are not id-validated.
//
// An item that fails is removed from the request and reported to the client through
// partial_success. The pass reads every item once and moves nothing when all are valid.

struct IdValidation {
  size_t kept = 0;      // items left in the request
  size_t rejected = 0;  // items removed
};

bool IsValidTraceId(const std::string& id);
bool IsValidSpanId(const std::string& id);

IdValidation RemoveInvalidSpans(TracesRequest* request);
IdValidation RemoveInvalidLogRecords(LogsRequest* request);

// For traces and logs the above; for metrics only counts (nothing is rejected).
IdValidation RemoveInvalidItems(Telemetry* data);

// partial_success.error_message, e.g. "2 spans with invalid trace_id/span_id rejected".
std::string RejectedItemsMessage(Signal signal, size_t rejected);

}  // namespace otlpd
