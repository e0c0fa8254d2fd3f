#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/auth.h"
#include "core/exporter_helper.h"
#include "exporters/otlp/config.h"

namespace otlpd {

// The `otlp` exporter's sender: each attempt is one OTLP/gRPC Export call on a shared
// channel, carrying the request's encoding as it is (no re-serialization: what a receiver
// got is forwarded byte for byte). Everything around it is the ExporterHelper.
class OtlpGrpcSender final : public RequestSender {
 public:
  OtlpGrpcSender(std::string id, const OtlpExporterConfig& config);
  ~OtlpGrpcSender() override;

  absl::Status Start(Host* host) override;
  SendResult Send(const Telemetry& data, SendContext* context, absl::Time deadline) override;
  void CancelAll() override;

 private:
  const std::string id_;
  const OtlpExporterConfig config_;
  const ClientAuthenticator* auth_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;

  // Calls in flight, so that CancelAll can cancel them.
  absl::Mutex mu_;
  absl::flat_hash_set<grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// An export call's gRPC status as an absl::Status (core/status.h's FromGrpcCode), with
// google.rpc.RetryInfo's delay as the RetryAfter hint.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace otlpd
