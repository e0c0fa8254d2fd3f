#pragma once

#include <atomic>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "config/config.h"
#include "core/registry.h"
#include "service/graph.h"
#include "service/host.h"
#include "service/self_metrics_server.h"

namespace otlpd {

// The running daemon: the host, the pipeline graph, and the self-metrics endpoint.
class Service {
 public:
  static absl::StatusOr<std::unique_ptr<Service>> Build(const Config& config,
                                                        const ComponentRegistry& registry);
  ~Service();

  // Starts the self-metrics endpoint, then the graph.
  absl::Status Start();
  // Receivers stop accepting first, then processors flush and exporters drain, all by
  // `timeout` from now.
  void Shutdown(absl::Duration timeout);

  Host& host() { return *host_; }
  const PipelineGraph& graph() const { return *graph_; }
  // Port of the self-metrics endpoint (0 when disabled).
  int metrics_port() const;

 private:
  Service() = default;

  TelemetryConfig telemetry_;
  // Declared first so that it outlives the components, which keep pointers into it.
  std::unique_ptr<ServiceHost> host_;
  std::unique_ptr<PipelineGraph> graph_;
  std::unique_ptr<SelfMetricsServer> metrics_server_;
  std::atomic<bool> shut_down_{false};
};

}  // namespace otlpd
