#pragma once

#include <cstddef>

#include "extensions/query/json_writer.h"
#include "opentelemetry/proto/logs/v1/logs.pb.h"

namespace otlpd::query {

enum class LogOrder { kNewestFirst, kOldestFirst };

// Writes the records of `logs` as a JSON array, ordered by record time (the observed time when
// the record has none), at most `limit`. Each record:
//   {"timestamp": RFC 3339 with nanoseconds or null, "observedTimestamp": same,
//    "severityNumber": 0..24, "severityText": "...", "body": <the AnyValue as JSON>,
//    "attributes": {...}, "resource": {...}, "scope": {"name","version"},
//    "traceId": 32 hex or "", "spanId": 16 hex or "", "service": resource service.name}
// Returns how many records were written.
size_t WriteLogRecords(const opentelemetry::proto::logs::v1::LogsData& logs, LogOrder order,
                       size_t limit, JsonWriter* json);

}  // namespace otlpd::query
