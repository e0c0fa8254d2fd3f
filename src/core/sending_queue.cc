#include "core/sending_queue.h"

#include "core/status.h"

namespace otlpd {

int64_t SizeOf(Sizer sizer, const Telemetry& data) {
  switch (sizer) {
    case Sizer::kRequests:
      return 1;
    case Sizer::kItems:
      return static_cast<int64_t>(data.ItemCount());
    case Sizer::kBytes:
      return static_cast<int64_t>(data.ByteSize());
  }
  return 1;
}

void QueueSizes::Add(int64_t request_items, int64_t request_bytes, int sign) {
  requests += sign;
  items += sign * request_items;
  bytes += sign * request_bytes;
}

void QueueSizes::Add(const Telemetry& data, int sign) {
  Add(static_cast<int64_t>(data.ItemCount()), static_cast<int64_t>(data.ByteSize()), sign);
}

absl::Status QueueFullError() {
  return RetryableError(absl::StatusCode::kUnavailable, "sending queue is full", absl::Seconds(1));
}

absl::Status QueueClosedError() {
  return RetryableError(absl::StatusCode::kUnavailable, "sending queue is shutting down",
                        absl::Seconds(1));
}

}  // namespace otlpd
