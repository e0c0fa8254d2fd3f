#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "receivers/otlp/config.h"
#include "receivers/otlp/export_core.h"

namespace otlpd {

class PendingGrpcCalls;

// OTLP/gRPC: TraceService, MetricsService and LogsService Export, served with the callback
// API on raw ByteBuffers so that each request is parsed straight into its Telemetry arena.
class OtlpGrpcServer {
 public:
  static absl::StatusOr<std::unique_ptr<OtlpGrpcServer>> Start(const OtlpGrpcConfig& config,
                                                               std::shared_ptr<ExportCore> core);
  ~OtlpGrpcServer();

  int port() const { return port_; }

  // Stops taking calls now; calls in progress may finish until `deadline` (gRPC's
  // Server::Shutdown, run on a thread of its own because it blocks until every call is done).
  void BeginShutdown(absl::Time deadline);
  // Answers the calls still waiting for their pipeline UNAVAILABLE (their late completions
  // are dropped) and waits for the server to stop. Call after ExportCore::WaitIdle.
  void FinishShutdown();

  // The handler behind the three services.
  grpc::ServerUnaryReactor* Export(Signal signal, grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response);

 private:
  OtlpGrpcServer(std::shared_ptr<ExportCore> core);

  std::shared_ptr<ExportCore> core_;
  std::shared_ptr<PendingGrpcCalls> pending_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shutdown_begun_ = false;
  bool shut_down_ = false;
  std::thread stopper_;
};

// A pipeline error as a gRPC status. UNAVAILABLE and RESOURCE_EXHAUSTED carry a
// google.rpc.RetryInfo in the status details (the pipeline's hint, or kDefaultRetryAfter).
grpc::Status ToGrpcStatus(const absl::Status& status);

// The address gRPC should bind for an otelcol endpoint (":4317" means every interface).
std::string GrpcListenAddress(const std::string& endpoint);

}  // namespace otlpd
