#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/store_reader.h"

namespace otlpd::query {

// Parsers of query-string values. Errors say what is wrong with the value; the caller adds
// the parameter's name.

// Go's time.ParseDuration: a sequence of decimal numbers with units ns, us (µs, μs), ms, s,
// m, h ("1.2ms", "100us", "1h30m", "0"). Negative durations are refused (no query needs one).
absl::StatusOr<absl::Duration> ParseGoDuration(absl::string_view text);

// Jaeger's TraceIDFromString: 1 to 32 hex digits, left-padded with zeros to 16 bytes.
absl::StatusOr<storage::TraceId> ParseTraceIdHex(absl::string_view text);

// A decimal integer count of `unit` since the Unix epoch (Jaeger: start/end in µs, endTs in
// ms).
absl::StatusOr<absl::Time> ParseUnixTime(absl::string_view text, absl::Duration unit);

// RFC 3339 with optional fractional seconds, "Z" or a numeric offset (Go's RFC3339Nano).
absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text);

// Our API's times: RFC 3339, or Unix seconds with an optional fraction ("1700000000.5"), as
// Prometheus' HTTP API takes them.
absl::StatusOr<absl::Time> ParseApiTime(absl::string_view text);

// Our API's step: a Go duration ("30s") or seconds ("30", "0.5"); must be positive.
absl::StatusOr<absl::Duration> ParseStep(absl::string_view text);

// A non-negative decimal integer.
absl::StatusOr<int64_t> ParseNonNegativeInt(absl::string_view text);

// Jaeger's `tag=key:value` (split at the first ':'; the value may hold more ':').
absl::Status ParseTagParam(absl::string_view text, std::map<std::string, std::string>* tags);

// Jaeger's `tags={"key":"value",...}`: a JSON object; string values as they are, numbers and
// booleans as their JSON text (Jaeger wants strings only; the UI and Grafana send strings).
absl::Status ParseTagsJson(absl::string_view text, std::map<std::string, std::string>* tags);

// An OTLP SeverityNumber (1..24) or a severity name: TRACE, DEBUG, INFO, WARN (WARNING),
// ERROR, FATAL, optionally followed by 2..4 ("INFO3"), case-insensitive.
absl::StatusOr<int> ParseSeverity(absl::string_view text);

// Span kind as Jaeger names it ("server", "client", "producer", "consumer", "internal"; ""
// = any), also accepting OTLP's "SPAN_KIND_SERVER" forms and any case; unknown kinds are an
// error.
absl::StatusOr<std::string> ParseSpanKind(absl::string_view text);

// The lowercased words of `text`, split at every character that is not ASCII alphanumeric
// (bytes ≥ 0x80 are kept, so UTF-8 words stay whole).
std::vector<std::string> SplitWords(absl::string_view text);

// Percent-decodes a URL path segment ('+' stays '+'). Malformed escapes are kept as they are.
std::string PercentDecode(absl::string_view text);

}  // namespace otlpd::query
