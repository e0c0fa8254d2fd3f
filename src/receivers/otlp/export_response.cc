#include "receivers/otlp/export_response.h"

#include "core/id_validation.h"
#include "core/otlp_json.h"
#include "core/status.h"
#include "google/rpc/retry_info.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace otlpd {

namespace {

using opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse;
using opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

std::string Encode(const google::protobuf::Message& message, bool json) {
  return json ? EncodeOtlpJson(message) : message.SerializeAsString();
}

}  // namespace

std::string ExportResponseBody(Signal signal, size_t rejected, bool json) {
  // An empty message encodes as no bytes, or as {} in JSON.
  if (rejected == 0) return json ? "{}" : "";
  const int64_t n = static_cast<int64_t>(rejected);
  const std::string message = RejectedItemsMessage(signal, rejected);
  switch (signal) {
    case Signal::kTraces: {
      ExportTraceServiceResponse r;
      r.mutable_partial_success()->set_rejected_spans(n);
      r.mutable_partial_success()->set_error_message(message);
      return Encode(r, json);
    }
    case Signal::kMetrics: {
      ExportMetricsServiceResponse r;
      r.mutable_partial_success()->set_rejected_data_points(n);
      r.mutable_partial_success()->set_error_message(message);
      return Encode(r, json);
    }
    case Signal::kLogs: {
      ExportLogsServiceResponse r;
      r.mutable_partial_success()->set_rejected_log_records(n);
      r.mutable_partial_success()->set_error_message(message);
      return Encode(r, json);
    }
  }
  return "";
}

std::string StatusBody(absl::StatusCode code, std::string_view message, bool json) {
  google::rpc::Status status;
  status.set_code(static_cast<int32_t>(code));
  status.set_message(std::string(message));
  return Encode(status, json);
}

std::string RetryInfoDetails(const absl::Status& status, absl::Duration fallback) {
  if (status.code() != absl::StatusCode::kUnavailable &&
      status.code() != absl::StatusCode::kResourceExhausted) {
    return "";
  }
  const absl::Duration delay = RetryAfter(status).value_or(fallback);
  google::rpc::RetryInfo retry_info;
  const int64_t seconds = absl::ToInt64Seconds(delay);  // truncates toward zero
  retry_info.mutable_retry_delay()->set_seconds(seconds);
  retry_info.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(delay - absl::Seconds(seconds))));
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(status.code()));
  details.set_message(std::string(status.message()));
  details.add_details()->PackFrom(retry_info);
  return details.SerializeAsString();
}

}  // namespace otlpd
