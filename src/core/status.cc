#include "core/status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

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

}  // namespace otlpd
