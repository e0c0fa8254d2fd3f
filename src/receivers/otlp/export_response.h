#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "core/signal.h"

namespace otlpd {

// The bodies an OTLP receiver answers with, shared by the gRPC and HTTP transports.

// An Export*ServiceResponse for `signal`: empty, or with partial_success when `rejected`
// items were dropped. Protobuf or OTLP/JSON. The common empty answer costs nothing.
std::string ExportResponseBody(Signal signal, size_t rejected, bool json);

// A google.rpc.Status {code, message} (OTLP/HTTP error bodies), protobuf or JSON.
std::string StatusBody(absl::StatusCode code, std::string_view message, bool json);

// The gRPC status details of an error: a google.rpc.Status carrying a RetryInfo with the
// error's RetryAfter hint (or `fallback`), serialized; empty for errors that are not
// retryable-with-delay (anything but kUnavailable and kResourceExhausted).
std::string RetryInfoDetails(const absl::Status& status, absl::Duration fallback);

}  // namespace otlpd
