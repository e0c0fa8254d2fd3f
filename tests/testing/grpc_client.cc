#include "testing/grpc_client.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "google/rpc/retry_info.pb.h"
#include "google/rpc/status.pb.h"

namespace otlpd::testing {
namespace {

void Prepare(grpc::ClientContext* context, const GrpcCallOptions& options) {
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(options.timeout));
  if (options.gzip) context->set_compression_algorithm(GRPC_COMPRESS_GZIP);
}

}  // namespace

OtlpGrpcClient::OtlpGrpcClient(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);
  channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials(), args);
  traces_ = opentelemetry::proto::collector::trace::v1::TraceService::NewStub(channel_);
  metrics_ = opentelemetry::proto::collector::metrics::v1::MetricsService::NewStub(channel_);
  logs_ = opentelemetry::proto::collector::logs::v1::LogsService::NewStub(channel_);
}

grpc::Status OtlpGrpcClient::Export(const TracesRequest& request, TracesResponse* response,
                                    const GrpcCallOptions& options) {
  grpc::ClientContext context;
  Prepare(&context, options);
  TracesResponse ignored;
  return traces_->Export(&context, request, response ? response : &ignored);
}

grpc::Status OtlpGrpcClient::Export(const MetricsRequest& request, MetricsResponse* response,
                                    const GrpcCallOptions& options) {
  grpc::ClientContext context;
  Prepare(&context, options);
  MetricsResponse ignored;
  return metrics_->Export(&context, request, response ? response : &ignored);
}

grpc::Status OtlpGrpcClient::Export(const LogsRequest& request, LogsResponse* response,
                                    const GrpcCallOptions& options) {
  grpc::ClientContext context;
  Prepare(&context, options);
  LogsResponse ignored;
  return logs_->Export(&context, request, response ? response : &ignored);
}

std::optional<absl::Duration> GrpcRetryDelay(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return std::nullopt;
  }
  for (const auto& any : details.details()) {
    google::rpc::RetryInfo info;
    if (any.UnpackTo(&info)) {
      return absl::Seconds(info.retry_delay().seconds()) +
             absl::Nanoseconds(info.retry_delay().nanos());
    }
  }
  return std::nullopt;
}

}  // namespace otlpd::testing
