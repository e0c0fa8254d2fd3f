#include "exporters/otlp/otlp_exporter.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/grpc_tls.h"
#include "core/status.h"
#include "google/rpc/retry_info.pb.h"
#include "google/rpc/status.pb.h"

namespace otlpd {

namespace {

namespace trace_v1 = opentelemetry::proto::collector::trace::v1;
namespace metrics_v1 = opentelemetry::proto::collector::metrics::v1;
namespace logs_v1 = opentelemetry::proto::collector::logs::v1;

std::optional<absl::Duration> RetryInfoDelay(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return std::nullopt;
  for (const google::protobuf::Any& any : details.details()) {
    if (!absl::EndsWith(any.type_url(), "google.rpc.RetryInfo")) continue;
    google::rpc::RetryInfo info;
    if (!info.ParseFromString(any.value())) continue;
    return absl::Seconds(info.retry_delay().seconds()) +
           absl::Nanoseconds(info.retry_delay().nanos());
  }
  return std::nullopt;
}

template <class Response>
void LogPartialSuccess(const std::string& id, const Response& response, int64_t rejected,
                       std::string_view item_name) {
  if (!response.has_partial_success()) return;
  const auto& partial = response.partial_success();
  if (rejected == 0 && partial.error_message().empty()) return;
  spdlog::warn("exporter {}: upstream accepted the request partially: {} {} rejected: {}", id,
               rejected, item_name, partial.error_message());
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  const std::optional<absl::Duration> retry_after = RetryInfoDelay(status);
  absl::Status out(code, status.error_message());
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
      break;
    case absl::StatusCode::kResourceExhausted:
      // The OTLP spec: retry RESOURCE_EXHAUSTED only when the server says when.
      if (!retry_after) {
        return absl::UnknownError(
            absl::StrCat("upstream returned RESOURCE_EXHAUSTED without RetryInfo (not retried): ",
                         status.error_message()));
      }
      break;
    default:
      return out;  // permanent
  }
  return retry_after ? WithRetryAfter(std::move(out), *retry_after) : out;
}

OtlpGrpcExporter::OtlpGrpcExporter(const CreateSettings& settings, const OtlpExporterConfig& config)
    : id_(settings.id.ToString()),
      config_(config),
      sender_(
          id_, config.queue, config.retry, [this](const Telemetry& t) { return Export(t); },
          &settings.host->metrics()) {}

OtlpGrpcExporter::~OtlpGrpcExporter() {
  bool stopped;
  {
    absl::MutexLock lock(&mu_);
    stopped = sender_stopped_;
  }
  if (!stopped) Shutdown(absl::Now());
}

absl::Status OtlpGrpcExporter::Start() {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
      MakeGrpcChannelCredentials(config_.tls, config_.https_scheme);
  if (!creds.ok()) return creds.status();

  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("otlpd/" OTLPD_VERSION);
  switch (config_.compression) {
    case Compression::kGzip:
      args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
      break;
    case Compression::kDeflate:
      args.SetCompressionAlgorithm(GRPC_COMPRESS_DEFLATE);
      break;
    default:
      break;  // ParseConfig refuses the ones gRPC C++ cannot do
  }
  if (!config_.balancer_name.empty()) args.SetLoadBalancingPolicyName(config_.balancer_name);
  if (config_.keepalive.time > absl::ZeroDuration()) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                static_cast<int>(absl::ToInt64Milliseconds(config_.keepalive.time)));
    if (config_.keepalive.timeout > absl::ZeroDuration()) {
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                  static_cast<int>(absl::ToInt64Milliseconds(config_.keepalive.timeout)));
    }
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                config_.keepalive.permit_without_stream ? 1 : 0);
  }
  ApplyGrpcChannelTlsArgs(config_.tls, &args);
  // RPCs fail fast while the channel waits to reconnect, so a long reconnect backoff
  // (gRPC's default grows to 120s) would delay recovery well past the upstream's return.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);

  channel_ = grpc::CreateCustomChannel(config_.endpoint, *creds, args);
  traces_ = trace_v1::TraceService::NewStub(channel_);
  metrics_ = metrics_v1::MetricsService::NewStub(channel_);
  logs_ = logs_v1::LogsService::NewStub(channel_);
  sender_.Start();
  return absl::OkStatus();
}

void OtlpGrpcExporter::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (sender_stopped_) return;
    shutdown_deadline_ = deadline;
  }
  // The sender stops retrying at the deadline but cannot interrupt a call in flight.
  std::thread canceller([this, deadline] {
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithDeadline(absl::Condition(&sender_stopped_), deadline)) return;
    cancelled_ = true;
    for (grpc::ClientContext* ctx : in_flight_) ctx->TryCancel();
  });
  sender_.Shutdown(deadline);
  {
    absl::MutexLock lock(&mu_);
    sender_stopped_ = true;
  }
  canceller.join();
}

void OtlpGrpcExporter::Consume(TelemetryPtr data, Completion done) {
  sender_.Submit(std::move(data), std::move(done));
}

absl::Status OtlpGrpcExporter::Export(const Telemetry& data) {
  grpc::ClientContext ctx;
  absl::Time deadline = absl::InfiniteFuture();
  if (config_.timeout > absl::ZeroDuration()) deadline = absl::Now() + config_.timeout;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return absl::CancelledError("exporter is shutting down");
    deadline = std::min(deadline, shutdown_deadline_);
    in_flight_.insert(&ctx);
  }
  if (deadline != absl::InfiniteFuture()) ctx.set_deadline(absl::ToChronoTime(deadline));
  if (config_.wait_for_ready) ctx.set_wait_for_ready(true);
  for (const auto& [key, value] : config_.headers) ctx.AddMetadata(key, value);

  grpc::Status status;
  switch (data.signal()) {
    case Signal::kTraces: {
      trace_v1::ExportTraceServiceResponse response;
      status = traces_->Export(&ctx, data.traces(), &response);
      if (status.ok()) {
        LogPartialSuccess(id_, response, response.partial_success().rejected_spans(), "spans");
      }
      break;
    }
    case Signal::kMetrics: {
      metrics_v1::ExportMetricsServiceResponse response;
      status = metrics_->Export(&ctx, data.metrics(), &response);
      if (status.ok()) {
        LogPartialSuccess(id_, response, response.partial_success().rejected_data_points(),
                          "metric points");
      }
      break;
    }
    case Signal::kLogs: {
      logs_v1::ExportLogsServiceResponse response;
      status = logs_->Export(&ctx, data.logs(), &response);
      if (status.ok()) {
        LogPartialSuccess(id_, response, response.partial_success().rejected_log_records(),
                          "log records");
      }
      break;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    in_flight_.erase(&ctx);
  }
  return FromGrpcStatus(status);
}

}  // namespace otlpd
