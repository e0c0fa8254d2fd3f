#pragma once

#include <optional>

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

}  // namespace otlpd
