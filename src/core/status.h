#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace otlpd {

// How pipeline errors map to OTLP (see README "Errors"):
//   kUnavailable        -> gRPC UNAVAILABLE + RetryInfo,  HTTP 503 + Retry-After (retryable)
//   kResourceExhausted  -> gRPC RESOURCE_EXHAUSTED + RetryInfo, HTTP 429 + Retry-After
//   kInvalidArgument    -> gRPC INVALID_ARGUMENT, HTTP 400 (permanent)
//   anything else       -> permanent for the client (gRPC code as is, HTTP 500)

// Retryable error with a hint of when to retry.
absl::Status RetryableError(absl::StatusCode code, absl::string_view message,
                            absl::Duration retry_after);

// True for errors a client (or our exporters) should retry.
bool IsRetryable(const absl::Status& status);

// The retry hint attached by RetryableError, if any.
std::optional<absl::Duration> RetryAfter(const absl::Status& status);

// Returns `status` with a retry hint attached (or replaced).
absl::Status WithRetryAfter(absl::Status status, absl::Duration retry_after);

// --- the one table of what OTLP status codes mean --------------------------------------

// An upstream's gRPC answer (`code` is the gRPC code, numerically equal to absl's), as
// our exporters treat it (OTLP spec): UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, CANCELLED,
// OUT_OF_RANGE and DATA_LOSS are retried; RESOURCE_EXHAUSTED only when the server said when
// (RetryInfo); everything else is permanent. `retry_info` becomes the RetryAfter hint.
absl::Status FromGrpcCode(absl::StatusCode code, std::string_view message,
                          std::optional<absl::Duration> retry_info);

// An upstream's HTTP answer: 429, 502, 503 and 504 are retried (with Retry-After as the
// hint), every other non-2xx is permanent (as otelcol).
absl::Status FromHttpStatus(int http_status, std::string_view message,
                            std::optional<absl::Duration> retry_after);

// How a receiver answers a pipeline error over OTLP/HTTP: 503 (kUnavailable and the other
// retryable codes but kResourceExhausted), 429
// (kResourceExhausted), 400 (kInvalidArgument), 401 (kUnauthenticated), 403, 404
// (kUnimplemented: no pipeline), 413 (payload too large is answered by the server), else 500.
int HttpStatusFor(const absl::Status& status);

// The Retry-After seconds to send with a 429/503 answer: the hint rounded up, at least 1.
int64_t RetryAfterSeconds(const absl::Status& status, absl::Duration fallback);

}  // namespace otlpd
