#include "testing/grpc_client.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "google/rpc/retry_info.pb.h"
#include "google/rpc/status.pb.h"
#include "testing/temp_dir.h"

namespace otlpd::testing {
namespace {

void Prepare(grpc::ClientContext* context, const GrpcCallOptions& options) {
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(options.timeout));
  if (options.gzip) context->set_compression_algorithm(GRPC_COMPRESS_GZIP);
  for (const auto& [key, value] : options.metadata) context->AddMetadata(key, value);
}

}  // namespace

OtlpGrpcClient::OtlpGrpcClient(int port) { Init(port, grpc::InsecureChannelCredentials(), ""); }

OtlpGrpcClient::OtlpGrpcClient(int port, const GrpcClientTls& tls) {
  grpc::SslCredentialsOptions options;
  // A missing file reads as "": gRPC then fails the handshake, which is what a test of a
  // wrong setup wants to see rather than a crash here.
  if (!tls.ca_file.empty()) options.pem_root_certs = ReadFileOrEmpty(tls.ca_file);
  if (!tls.cert_file.empty()) options.pem_cert_chain = ReadFileOrEmpty(tls.cert_file);
  if (!tls.key_file.empty()) options.pem_private_key = ReadFileOrEmpty(tls.key_file);
  Init(port, grpc::SslCredentials(options), tls.server_name);
}

void OtlpGrpcClient::Init(int port, std::shared_ptr<grpc::ChannelCredentials> credentials,
                          const std::string& server_name) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  channel_ =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), std::move(credentials), args);
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
