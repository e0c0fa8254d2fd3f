#pragma once

#include "core/component.h"
#include "core/exporter_metrics.h"

namespace otlpd {

// otelcol's nop exporter: drops the data and completes OK at once (counted as sent).
class NopExporter : public Exporter {
 public:
  explicit NopExporter(const CreateSettings& settings);

  void Consume(TelemetryPtr data, Completion done) override;

 private:
  ExporterMetrics metrics_;
};

}  // namespace otlpd
