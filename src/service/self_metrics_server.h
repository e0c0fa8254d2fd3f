#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/http_server.h"
#include "core/metrics.h"

namespace otlpd {

// service::telemetry::metrics::address: GET /metrics answers the registry in Prometheus
// text format.
class SelfMetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<SelfMetricsServer>> Start(const std::string& address,
                                                                  const MetricsRegistry* metrics);
  ~SelfMetricsServer();
  int port() const { return server_->port(); }

 private:
  explicit SelfMetricsServer(std::unique_ptr<HttpServer> server) : server_(std::move(server)) {}
  std::unique_ptr<HttpServer> server_;
};

}  // namespace otlpd
