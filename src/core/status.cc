#include "core/status.h"

#include <algorithm>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace otlpd {

namespace {
constexpr absl::string_view kRetryAfterUrl = "type.otlpd/retry-after-ms";
}  // namespace

absl::Status RetryableError(absl::StatusCode code, absl::string_view message,
                            absl::Duration retry_after) {
  return WithRetryAfter(absl::Status(code, message), retry_after);
}

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

std::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRetryAfterUrl);
  if (!payload) return std::nullopt;
  int64_t ms = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &ms)) return std::nullopt;
  return absl::Milliseconds(ms);
}

absl::Status WithRetryAfter(absl::Status status, absl::Duration retry_after) {
  if (status.ok()) return status;
  status.SetPayload(kRetryAfterUrl,
                    absl::Cord(std::to_string(absl::ToInt64Milliseconds(retry_after))));
  return status;
}

absl::Status FromGrpcCode(absl::StatusCode code, std::string_view message,
                          std::optional<absl::Duration> retry_info) {
  if (code == absl::StatusCode::kOk) return absl::OkStatus();
  absl::Status out(code, absl::string_view(message.data(), message.size()));
  // The OTLP spec: retry RESOURCE_EXHAUSTED only when the server says when.
  if (code == absl::StatusCode::kResourceExhausted && !retry_info) {
    return absl::UnknownError(
        absl::StrCat("upstream returned RESOURCE_EXHAUSTED without RetryInfo (not retried): ",
                     absl::string_view(message.data(), message.size())));
  }
  if (!IsRetryable(out) || !retry_info) return out;
  return WithRetryAfter(std::move(out), *retry_info);
}

absl::Status FromHttpStatus(int http_status, std::string_view message,
                            std::optional<absl::Duration> retry_after) {
  if (http_status >= 200 && http_status < 300) return absl::OkStatus();
  absl::StatusCode code;
  switch (http_status) {
    case 429:
      code = absl::StatusCode::kResourceExhausted;
      break;
    case 502:
    case 503:
      code = absl::StatusCode::kUnavailable;
      break;
    case 504:
      code = absl::StatusCode::kDeadlineExceeded;
      break;
    case 400:
    case 413:
      code = absl::StatusCode::kInvalidArgument;
      break;
    case 401:
      code = absl::StatusCode::kUnauthenticated;
      break;
    case 403:
      code = absl::StatusCode::kPermissionDenied;
      break;
    case 404:
      code = absl::StatusCode::kNotFound;
      break;
    default:
      // Not retried (otelcol retries only 429, 502, 503 and 504).
      code =
          http_status >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kFailedPrecondition;
  }
  absl::Status out(code,
                   absl::StrCat("upstream answered HTTP ", http_status, message.empty() ? "" : ": ",
                                absl::string_view(message.data(), message.size())));
  const bool retryable =
      http_status == 429 || http_status == 502 || http_status == 503 || http_status == 504;
  if (retryable && retry_after) out = WithRetryAfter(std::move(out), *retry_after);
  return out;
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnimplemented:
      return 404;
    default:
      // Every other retryable error tells an OTLP/HTTP client to come back later.
      return IsRetryable(status) ? 503 : 500;
  }
}

int64_t RetryAfterSeconds(const absl::Status& status, absl::Duration fallback) {
  const absl::Duration delay = RetryAfter(status).value_or(fallback);
  return std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(delay, absl::Seconds(1))));
}

}  // namespace otlpd
