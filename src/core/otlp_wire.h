#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/signal.h"
#include "core/span_index.h"

namespace otlpd {

// What a wire scan learned about an OTLP Export*ServiceRequest without decoding it.
struct WireScan {
  // Spans, metric data points or log records, exactly as CountItems (core/telemetry.h)
  // counts them on the parsed message.
  size_t items = 0;
  // Items that core/id_validation.h would remove (RemoveInvalidSpans /
  // RemoveInvalidLogRecords); always 0 for metrics.
  size_t invalid_items = 0;
};

// Checks that `bytes` is an Export*ServiceRequest of `signal` that protobuf 3.21's
// ParseFromArray accepts, and counts its items, without decoding it and without allocating.
// OK exactly when ParseFromArray (on TracesRequest / MetricsRequest / LogsRequest) succeeds;
// otherwise kInvalidArgument with a short reason.
//
// The scan follows the parser's rules: unknown fields (including a known field number with
// an unexpected wire type) are skipped, groups must end on their own end-group tag, nesting
// is limited to protobuf's default recursion limit (100, counting messages and groups),
// singular message fields merge, and a later member of Metric.data replaces an earlier one.
//
// With `index` (traces only), also fills it with a summary of each span (core/span_index.h),
// replacing what it held; its contents are meaningful only when the scan is OK.
absl::StatusOr<WireScan> ScanOtlpRequest(Signal signal, std::string_view bytes,
                                         SpanIndex* index = nullptr);

}  // namespace otlpd
