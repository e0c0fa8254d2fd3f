#include "extensions/health_check/factory.h"

#include "extensions/health_check/config.h"
#include "extensions/health_check/health_check_extension.h"

namespace otlpd {

namespace {

class HealthCheckExtensionFactory : public ExtensionFactory {
 public:
  std::string_view type() const override { return "health_check"; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<HealthCheckConfig>();
    if (node.Get("endpoint", &config->endpoint) && config->endpoint.empty()) {
      node.Error("endpoint", "endpoint must not be empty");
    }
    if (node.Get("path", &config->path) && (config->path.empty() || config->path[0] != '/')) {
      node.Error("path", "path must start with \"/\"");
    }
    ConfigNode body = node.Child("response_body");
    std::string text;
    if (body.Get("healthy", &text)) config->healthy_body = text;
    if (body.Get("unhealthy", &text)) config->unhealthy_body = text;
    return config;
  }

  absl::StatusOr<std::unique_ptr<Extension>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config) const override {
    if (settings.host == nullptr) {
      return absl::InvalidArgumentError("health_check needs a host to report on");
    }
    return std::make_unique<HealthCheckExtension>(settings, ConfigAs<HealthCheckConfig>(config));
  }
};

}  // namespace

std::unique_ptr<ExtensionFactory> NewHealthCheckExtensionFactory() {
  return std::make_unique<HealthCheckExtensionFactory>();
}

}  // namespace otlpd
