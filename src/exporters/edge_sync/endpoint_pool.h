#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/exporter_helper.h"
#include "core/metrics.h"
#include "exporters/edge_sync/circuit_breaker.h"
#include "exporters/edge_sync/compression_chooser.h"
#include "exporters/edge_sync/config.h"

namespace otlpd {

// edge_sync's sender: OTLP to several endpoints, each behind its own circuit breaker,
// balanced round_robin, least_pending or by trace id (rendezvous hashing over the endpoints
// whose breaker is closed, so a trace moves only when its endpoint fails). Each endpoint
// has one otlp / otlphttp sender per compression it may use; the compression is fixed or
// chosen by a CompressionChooser; max_bandwidth is held by a token bucket over the
// estimated bytes on the wire.
class EndpointPool final : public RequestSender {
 public:
  EndpointPool(std::string id, const EdgeSyncConfig& config, MetricsRegistry* metrics);
  ~EndpointPool() override;

  absl::Status Start(Host* host) override;
  SendResult Send(const Telemetry& data, SendContext* context, absl::Time deadline) override;
  void CancelAll() override;
  void Shutdown() override;

  const CompressionChooser& chooser() const { return *chooser_; }

 private:
  struct Endpoint;
  SendResult SendTo(Endpoint& e, const Telemetry& data, SendContext* context, absl::Time deadline);
  // The endpoints an attempt may use now (their breakers allow it), in preference order for
  // `data`. A half-open endpoint's probe slot is taken for the first one only.
  std::vector<Endpoint*> Pick(const Telemetry& data, absl::Time now);
  SendResult SendByTrace(const Telemetry& data, SendContext* context, absl::Time deadline);
  absl::Status NoEndpoint(absl::Time now) const;

  const std::string id_;
  const EdgeSyncConfig config_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::unique_ptr<CompressionChooser> chooser_;
  BandwidthLimiter bandwidth_;
  std::atomic<uint64_t> next_{0};
  Counter* retries_ = nullptr;
  Counter* wire_bytes_ = nullptr;
};

}  // namespace otlpd
