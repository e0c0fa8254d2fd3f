#pragma once

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "core/component.h"
#include "core/http_server.h"
#include "core/metrics.h"
#include "core/registry.h"

namespace otlpd {

// The running daemon: the component graph built from service.pipelines.
//
// Receivers and exporters are one instance per id, shared by the pipelines naming them;
// processors are one instance per pipeline. A receiver feeds, per signal, every pipeline
// that lists it (fan-out); a pipeline feeds all of its exporters (fan-out).
class Service : public Host {
 public:
  static absl::StatusOr<std::unique_ptr<Service>> Build(const Config& config,
                                                        const ComponentRegistry& registry);
  ~Service() override;

  // Starts extensions, exporters, processors, receivers (and the self-metrics endpoint).
  absl::Status Start();
  // Receivers stop accepting first, then processors flush and exporters drain, all by
  // `timeout` from now.
  void Shutdown(absl::Duration timeout);

  MetricsRegistry& metrics() override { return metrics_; }
  bool Healthy() const override;

  // Port of the self-metrics endpoint (0 when disabled).
  int metrics_port() const;

 private:
  Service() = default;
  void RegisterProcessMetrics();

  MetricsRegistry metrics_;
  TelemetryConfig telemetry_;
  std::vector<std::pair<ComponentId, std::shared_ptr<Extension>>> extensions_;
  std::vector<std::pair<ComponentId, std::shared_ptr<Exporter>>> exporters_;
  std::vector<std::pair<std::string, std::shared_ptr<Processor>>> processors_;
  std::vector<std::pair<ComponentId, std::unique_ptr<Receiver>>> receivers_;
  std::unique_ptr<HttpServer> metrics_server_;
  std::atomic<bool> running_{false};
  std::atomic<bool> shut_down_{false};
};

}  // namespace otlpd
