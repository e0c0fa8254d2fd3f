#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/exporter_helper.h"
#include "core/factory.h"
#include "exporters/loadbalancing/router.h"

namespace otlpd {

// resolver.dns: the backends are the addresses `hostname` resolves to, on `port`.
struct DnsResolverConfig {
  std::string hostname;
  int port = 4317;
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(1);
};

// Passive ejection of failing backends (Envoy's outlier detection; otlpd's keys).
struct OutlierDetectionConfig {
  bool enabled = true;
  int consecutive_errors = 5;  // failed sends in a row that eject a backend
  absl::Duration base_ejection_time = absl::Seconds(30);  // × the number of ejections so far
  absl::Duration max_ejection_time = absl::Seconds(300);
  int max_ejection_percent = 50;  // of the resolved backends; at least one may always go
};

// The "loadbalancing" exporter: otelcol's keys plus outlier_detection.
class LoadBalancingConfig : public ComponentConfig {
 public:
  std::optional<RoutingKey> routing_key;  // unset: each signal's default
  // protocol.otlp as written (the otlp exporter's keys, without endpoint): each backend's
  // otlp exporter is built from it with the backend's endpoint.
  YAML::Node otlp;
  // Its timeout, retry_on_failure and sending_queue, which this exporter applies per backend.
  ExporterHelperSettings helper;
  std::vector<std::string> static_hostnames;  // normalized host:port
  std::optional<DnsResolverConfig> dns;
  OutlierDetectionConfig outlier;
};

}  // namespace otlpd
