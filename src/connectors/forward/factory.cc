#include "connectors/forward/forward_connector.h"

namespace otlpd {

namespace {

class ForwardConnectorFactory final : public ConnectorFactory {
 public:
  std::string_view type() const override { return "forward"; }
  bool Supports(Signal from, Signal to) const override { return from == to; }
  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& /*node*/) const override {
    return std::make_unique<ForwardConnectorConfig>();
  }
  absl::StatusOr<std::unique_ptr<Connector>> Create(const CreateSettings& /*settings*/,
                                                    const ComponentConfig& /*config*/,
                                                    Signal /*from*/, Signal /*to*/,
                                                    ConsumerPtr next) const override {
    if (next == nullptr) return absl::InvalidArgumentError("forward connector needs a consumer");
    return std::make_unique<ForwardConnector>(std::move(next));
  }
};

}  // namespace

std::unique_ptr<ConnectorFactory> NewForwardConnectorFactory() {
  return std::make_unique<ForwardConnectorFactory>();
}

}  // namespace otlpd
