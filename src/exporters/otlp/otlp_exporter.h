#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/component.h"
#include "core/queued_sender.h"
#include "exporters/otlp/config.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace otlpd {

// Sends every signal over one gRPC channel to an OTLP/gRPC upstream, through otelcol's
// queue + retry (QueuedRetrySender). Exports are blocking calls on the sender's workers.
class OtlpGrpcExporter final : public Exporter {
 public:
  OtlpGrpcExporter(const CreateSettings& settings, const OtlpExporterConfig& config);
  ~OtlpGrpcExporter() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

  // One export attempt, no retry (what the sender's workers call).
  absl::Status Export(const Telemetry& data);

 private:
  const std::string id_;
  const OtlpExporterConfig config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<opentelemetry::proto::collector::trace::v1::TraceService::Stub> traces_;
  std::unique_ptr<opentelemetry::proto::collector::metrics::v1::MetricsService::Stub> metrics_;
  std::unique_ptr<opentelemetry::proto::collector::logs::v1::LogsService::Stub> logs_;

  // Calls in flight, so that Shutdown can cancel them when its deadline passes.
  absl::Mutex mu_;
  absl::flat_hash_set<grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::Time shutdown_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool sender_stopped_ ABSL_GUARDED_BY(mu_) = false;

  QueuedRetrySender sender_;  // last: its workers use the members above
};

// An export call's gRPC status as an absl::Status: retryable codes per the OTLP spec
// (RESOURCE_EXHAUSTED only with RetryInfo), RetryInfo's delay as the RetryAfter hint.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace otlpd
