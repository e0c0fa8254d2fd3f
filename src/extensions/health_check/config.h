#pragma once

#include <optional>
#include <string>

#include "core/factory.h"

namespace otlpd {

// otelcol's health_check extension settings (same keys).
struct HealthCheckConfig : ComponentConfig {
  std::string endpoint = "127.0.0.1:13133";
  std::string path = "/";
  // Bodies to answer with instead of the default JSON status.
  std::optional<std::string> healthy_body;
  std::optional<std::string> unhealthy_body;
};

}  // namespace otlpd
