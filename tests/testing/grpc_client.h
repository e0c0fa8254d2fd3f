#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "testing/otlp_data.h"

namespace otlpd::testing {

struct GrpcCallOptions {
  absl::Duration timeout = absl::Seconds(15);
  bool gzip = false;
  // Sent as the call's metadata (keys must be lower-case, as gRPC requires).
  std::vector<std::pair<std::string, std::string>> metadata = {};
};

// TLS for OtlpGrpcClient. Every path is a PEM file; empty ones are left out.
struct GrpcClientTls {
  std::string ca_file;    // roots the server's certificate must verify against
  std::string cert_file;  // client certificate (mTLS), with key_file
  std::string key_file;
  // Name the server's certificate must carry (and SNI); default: the target host.
  std::string server_name;
};

// Real OTLP/gRPC client stubs on a channel to 127.0.0.1:port, insecure or with TLS. The channel
// uses its own subchannel pool so that clients in one test do not share connections.
class OtlpGrpcClient {
 public:
  explicit OtlpGrpcClient(int port);
  // Over TLS with `tls`.
  OtlpGrpcClient(int port, const GrpcClientTls& tls);

  grpc::Status Export(const TracesRequest& request, TracesResponse* response = nullptr,
                      const GrpcCallOptions& options = {});
  grpc::Status Export(const MetricsRequest& request, MetricsResponse* response = nullptr,
                      const GrpcCallOptions& options = {});
  grpc::Status Export(const LogsRequest& request, LogsResponse* response = nullptr,
                      const GrpcCallOptions& options = {});

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  void Init(int port, std::shared_ptr<grpc::ChannelCredentials> credentials,
            const std::string& server_name);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<opentelemetry::proto::collector::trace::v1::TraceService::Stub> traces_;
  std::unique_ptr<opentelemetry::proto::collector::metrics::v1::MetricsService::Stub> metrics_;
  std::unique_ptr<opentelemetry::proto::collector::logs::v1::LogsService::Stub> logs_;
};

// The google.rpc.RetryInfo delay in a status' details, if any.
std::optional<absl::Duration> GrpcRetryDelay(const grpc::Status& status);

}  // namespace otlpd::testing
