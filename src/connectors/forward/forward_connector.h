#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// otelcol's forward connector: passes data unchanged from the pipelines that export to it
// to the pipelines (of the same signal) that receive from it, e.g. to give one set of
// receivers' data two different processor chains.
struct ForwardConnectorConfig : ComponentConfig {};

class ForwardConnector final : public Connector {
 public:
  explicit ForwardConnector(ConsumerPtr next) : next_(std::move(next)) {}
  void Consume(TelemetryPtr data, Completion done) override {
    next_->Consume(std::move(data), std::move(done));
  }

 private:
  const ConsumerPtr next_;
};

std::unique_ptr<ConnectorFactory> NewForwardConnectorFactory();

}  // namespace otlpd
