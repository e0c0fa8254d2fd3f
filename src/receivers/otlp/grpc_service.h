#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/auth.h"
#include "receivers/otlp/config.h"
#include "receivers/otlp/export_core.h"

namespace otlpd {

class ReactorCount;

// OTLP/gRPC: TraceService, MetricsService and LogsService Export, served with the callback
// API on raw ByteBuffers: a request's bytes are checked and kept as they are (see
// request_decoder.h), not decoded.
class OtlpGrpcServer {
 public:
  // `auth` (may be null) checks every call's metadata first.
  static absl::StatusOr<std::unique_ptr<OtlpGrpcServer>> Start(const OtlpGrpcConfig& config,
                                                               std::shared_ptr<ExportCore> core,
                                                               const ServerAuthenticator* auth);
  ~OtlpGrpcServer();

  int port() const { return port_; }

  // Waits until every answer has gone out (at most until `deadline`), cancels what gRPC
  // still holds and waits for the server to stop. Call once every call has been answered
  // (ExportCore::WaitIdle, then AnswerPending).
  void FinishShutdown(absl::Time deadline);

  // The handler behind the three services.
  grpc::ServerUnaryReactor* Export(Signal signal, grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response);

 private:
  OtlpGrpcServer(std::shared_ptr<ExportCore> core, const OtlpGrpcConfig& config,
                 const ServerAuthenticator* auth);

  std::shared_ptr<ExportCore> core_;
  const ServerAuthenticator* const auth_;
  const bool include_metadata_;
  std::shared_ptr<ReactorCount> reactors_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

// A pipeline error as a gRPC status. UNAVAILABLE and RESOURCE_EXHAUSTED carry a
// google.rpc.RetryInfo in the status details (the pipeline's hint, or kDefaultRetryAfter).
grpc::Status ToGrpcStatus(const absl::Status& status);

// The address gRPC should bind for an otelcol endpoint (":4317" means every interface).
std::string GrpcListenAddress(const std::string& endpoint);

}  // namespace otlpd
