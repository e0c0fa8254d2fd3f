#pragma once

#include <memory>

#include "core/auth.h"
#include "core/component.h"
#include "core/factory.h"
#include "core/http_server.h"
#include "receivers/otlp/config.h"
#include "receivers/otlp/export_core.h"

namespace otlpd {

class OtlpGrpcServer;
class OtlpHttpHandler;

// The `otlp` receiver: OTLP over gRPC and/or HTTP into the pipelines that list it.
class OtlpReceiver final : public Receiver {
 public:
  OtlpReceiver(const CreateSettings& settings, const OtlpReceiverConfig& config,
               const ReceiverConsumers& consumers);
  ~OtlpReceiver() override;

  // Binds the configured endpoints.
  absl::Status Start() override;
  // Stops taking requests, lets those in the pipeline finish until `deadline`, answers the
  // rest UNAVAILABLE, and closes the listeners.
  void StopAccepting(absl::Time deadline) override;
  void Shutdown(absl::Time deadline) override;

  // Ports actually bound (0 if the protocol is off or not started); useful with port 0.
  int grpc_port() const;
  int http_port() const;

 private:
  // The authenticator named by a protocol's auth::authenticator, or null.
  absl::StatusOr<const ServerAuthenticator*> Authenticator(
      const std::optional<ComponentId>& id) const;

  OtlpReceiverConfig config_;
  Host* const host_;
  std::shared_ptr<ExportCore> core_;
  std::unique_ptr<OtlpGrpcServer> grpc_;
  std::shared_ptr<OtlpHttpHandler> http_handler_;
  std::unique_ptr<HttpServer> http_;
  bool stopped_accepting_ = false;
  bool shut_down_ = false;
};

}  // namespace otlpd
