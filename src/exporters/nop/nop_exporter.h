#pragma once

#include "core/component.h"

namespace otlpd {

// otelcol's nop exporter: drops the data and completes OK at once.
class NopExporter : public Exporter {
 public:
  void Consume(TelemetryPtr data, Completion done) override;
};

}  // namespace otlpd
