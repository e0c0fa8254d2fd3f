#include "service/service.h"

#include "absl/strings/str_cat.h"
#include "service/process_metrics.h"
#include "spdlog/spdlog.h"

namespace otlpd {

absl::StatusOr<std::unique_ptr<Service>> Service::Build(const Config& config,
                                                        const ComponentRegistry& registry) {
  std::unique_ptr<Service> svc(new Service());
  svc->telemetry_ = config.telemetry;
  svc->host_ = std::make_unique<ServiceHost>();
  auto graph = PipelineGraph::Build(config, registry, svc->host_.get());
  if (!graph.ok()) return graph.status();
  svc->graph_ = std::move(*graph);
  RegisterProcessMetrics(&svc->host_->metrics());
  return svc;
}

Service::~Service() { Shutdown(absl::Seconds(5)); }

absl::Status Service::Start() {
  if (telemetry_.metrics_enabled && !telemetry_.metrics_address.empty()) {
    auto server = SelfMetricsServer::Start(telemetry_.metrics_address, &host_->metrics());
    if (!server.ok()) {
      return absl::Status(
          server.status().code(),
          absl::StrCat("service::telemetry::metrics::address: ", server.status().message()));
    }
    metrics_server_ = std::move(*server);
  }
  if (absl::Status s = graph_->Start(); !s.ok()) {
    Shutdown(absl::Seconds(5));
    return s;
  }
  host_->SetRunning(true);
  spdlog::info("otlpd started: {} receiver(s), {} processor(s), {} exporter(s), {} connector(s)",
               graph_->receiver_count(), graph_->processor_count(), graph_->exporter_count(),
               graph_->connector_count());
  return absl::OkStatus();
}

void Service::Shutdown(absl::Duration timeout) {
  if (shut_down_.exchange(true)) return;
  // A Build that failed part-way leaves no graph (and may leave no host).
  if (host_ != nullptr) host_->SetRunning(false);
  if (graph_ != nullptr) graph_->Shutdown(absl::Now() + timeout);
  metrics_server_.reset();
}

int Service::metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }

}  // namespace otlpd
